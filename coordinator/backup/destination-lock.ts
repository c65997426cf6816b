/**
 * One writing coordinator per destination: `tandem-lock.json` at the destination root is a lease
 * that backup, prune, delete and recover take after the state folder's backup.lock (lock.ts).
 * That lock only sees coordinators sharing this host and state folder; a second coordinator on
 * another host, or with a copy of the fleet file and another stateDir, would otherwise prune
 * the files an incremental set being shipped builds on.
 *
 * The lease is written with the destination's conditional writes (createExclusive, replaceIf:
 * link(2) on file systems, If-None-Match / If-Match on S3), so of two coordinators exactly one
 * wins. It expires (ttlMs) unless renewed, every renewEveryMs while the run lives: a crashed
 * coordinator's lease is taken over once expired, and at once by the next run on its own host
 * when its pid is gone. A renewal that finds another holder's lease stops the run (onLost).
 *
 * A lock file that is not a valid lease (planted, truncated, a newer format) is refused with its
 * name and never overwritten: an operator removes it. Expiry uses this host's clock against
 * the holder's: the coordinators' clocks must agree (NTP) to well within ttlMs.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AlreadyExistsError, ReplaceBusyError, VersionMismatchError, type Destination } from '../../shared/destination';
import { DESTINATION_LOCK_FILE } from '../../shared/destination/layout';
import { ConflictError, errorMessage } from '../../shared/errors';
import { printableLine } from '../../shared/printable';
import { processAlive } from './lock';

/** Format tag of the lease. */
export const DESTINATION_LOCK_FORMAT = 'tandem.lock/v1';

/** Verbs that write or remove at the destination, and so take its lock. */
export const DESTINATION_LOCK_VERBS = ['backup', 'prune', 'delete', 'recover'] as const;
export type DestinationLockVerb = (typeof DESTINATION_LOCK_VERBS)[number];

/** How long a lease lasts unless renewed: 120 s. */
export const LEASE_TTL_MS = 120_000;
/** How often a held lease is renewed: 30 s (four chances before it expires). */
export const LEASE_RENEW_MS = 30_000;
/** A lease is a few hundred bytes; anything larger was not written by tandem. */
const MAX_LEASE_BYTES = 8192;

const instant = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO 8601 instant');

/** The lease as written at the destination; parsed strictly when read back (it is input from the network). */
export const leaseSchema = z
  .object({
    format: z.literal(DESTINATION_LOCK_FORMAT),
    /** Random token of the run holding it: the holder is who wrote this token, not whoever shares its host and pid. */
    holder: z.string().regex(/^[0-9a-f]{32}$/),
    verb: z.enum(DESTINATION_LOCK_VERBS),
    host: z.string().min(1).max(255),
    pid: z.number().int().positive(),
    stateDir: z.string().min(1).max(4096),
    acquiredAt: instant,
    expiresAt: instant,
  })
  .strict();
export type DestinationLease = z.infer<typeof leaseSchema>;

/** What acquireDestinationLock needs. */
export interface DestinationLockOptions {
  verb: DestinationLockVerb;
  /** The fleet file's stateDir, written into the lease so the operator can tell coordinators apart. */
  stateDir: string;
  /** Hears of an expired lease taken over, and of renewals that failed and will be retried. */
  warn(message: string): void;
  /** Called once when the lease is lost (taken by another coordinator, or not renewed before it expired): the run must stop. */
  onLost(err: ConflictError): void;
  /** Lease length in ms; default LEASE_TTL_MS. */
  ttlMs?: number;
  /** Renewal period in ms; default LEASE_RENEW_MS. */
  renewEveryMs?: number;
  /** The clock, ms since the epoch; default Date.now (a seam for tests). */
  now?: () => number;
}

/** A destination lock this run holds. */
export interface DestinationLock {
  /** The lease as last written. */
  readonly lease: DestinationLease;
  /** Renews the lease now (the timer does it every renewEveryMs); throws ConflictError when it was lost. */
  renew(): Promise<void>;
  /** Stops renewing and removes the lease if it is still this run's; best-effort, never throws; safe to call twice. */
  release(): Promise<void>;
}

/** Why `data` is not a lease, or the lease. */
export function parseLease(data: Buffer): { lease: DestinationLease } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    return { problem: 'it is not JSON' };
  }
  const r = leaseSchema.safeParse(json);
  if (r.success) return { lease: r.data };
  const i = r.error.issues[0];
  return { problem: `${i.path.join('.') || 'the file'}: ${i.message}` };
}

/** The refusal naming the lease's holder; every string in it came from the destination and is escaped. */
export function heldMessage(where: string, l: DestinationLease): string {
  const p = printableLine;
  return (
    `another tandem ${l.verb} holds the destination lock of ${where} since ${p(l.acquiredAt)} (host ${p(l.host)} pid ${l.pid}, state folder ${p(l.stateDir)}), ` +
    `until ${p(l.expiresAt)}; wait for it to end, or if that coordinator is gone, the lock expires at ${p(l.expiresAt)} and the next run takes it over`
  );
}

const render = (l: DestinationLease) => JSON.stringify(l, null, 2) + '\n';

/** Takes the destination's lock for `verb`, or throws ConflictError naming its holder (exit 1). */
export async function acquireDestinationLock(dest: Destination, o: DestinationLockOptions): Promise<DestinationLock> {
  const now = o.now ?? Date.now;
  const ttl = o.ttlMs ?? LEASE_TTL_MS;
  const where = dest.describe();
  const file = `${where}: ${DESTINATION_LOCK_FILE}`;
  const holder = randomBytes(16).toString('hex');
  const leaseAt = (acquiredAt: string): DestinationLease => ({
    format: DESTINATION_LOCK_FORMAT, holder, verb: o.verb, host: hostname(), pid: process.pid, stateDir: o.stateDir,
    acquiredAt, expiresAt: new Date(now() + ttl).toISOString(),
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    const lease = leaseAt(new Date(now()).toISOString());
    const text = render(lease);
    try {
      return held(dest, o, lease, await dest.createExclusive(DESTINATION_LOCK_FILE, text));
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
    const current = await dest.readVersioned(DESTINATION_LOCK_FILE, MAX_LEASE_BYTES);
    if (current === null) continue; // released meanwhile
    // A request retried after its answer was lost finds its own write.
    if (current.data.toString('utf8') === text) return held(dest, o, lease, current.version);
    const parsed = parseLease(current.data);
    if ('problem' in parsed)
      throw new ConflictError(
        `${file} is not a tandem lock (${parsed.problem}); tandem never overwrites it: if no other tandem coordinator uses this destination, remove ${DESTINATION_LOCK_FILE} from its root and run again`,
        { file: DESTINATION_LOCK_FILE },
      );
    const other = parsed.lease;
    // Its own host can tell a dead holder at once (this run holds the state folder's lock, so no live run of that pid is lost).
    const gone = other.host === hostname() && other.pid !== process.pid && !processAlive(other.pid, other.host);
    const expired = now() >= Date.parse(other.expiresAt);
    if (!gone && !expired) throw new ConflictError(heldMessage(where, other), { file: DESTINATION_LOCK_FILE, host: other.host, pid: other.pid, verb: other.verb });
    try {
      const version = await dest.replaceIf(DESTINATION_LOCK_FILE, text, current.version);
      o.warn(
        `taking over the ${gone ? 'abandoned' : 'expired'} destination lock of ${where}: tandem ${other.verb} (host ${printableLine(other.host)} pid ${other.pid}, ` +
          `state folder ${printableLine(other.stateDir)}) ${gone ? 'is gone' : `did not renew it, expired at ${printableLine(other.expiresAt)}`}`,
      );
      return held(dest, o, lease, version);
    } catch (err) {
      // Another coordinator moved first, or is moving: look again.
      if (!(err instanceof VersionMismatchError || err instanceof ReplaceBusyError)) throw err;
      await sleep(100 + Math.random() * 200);
    }
  }
  throw new ConflictError(`cannot take the destination lock of ${where}: other coordinators keep changing ${DESTINATION_LOCK_FILE}; try again`, { file: DESTINATION_LOCK_FILE });
}

/** replaceIf, tried again for a few seconds while another replace holds the file's guard. */
async function replaceWhenFree(dest: Destination, text: string, version: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await dest.replaceIf(DESTINATION_LOCK_FILE, text, version);
    } catch (err) {
      if (!(err instanceof ReplaceBusyError) || attempt >= 10) throw err;
      await sleep(200 + Math.random() * 300);
    }
  }
}

/** Starts renewing a lease just written at `version`. */
function held(dest: Destination, o: DestinationLockOptions, first: DestinationLease, firstVersion: string): DestinationLock {
  const now = o.now ?? Date.now;
  const ttl = o.ttlMs ?? LEASE_TTL_MS;
  const where = dest.describe();
  let lease = first;
  let version = firstVersion;
  let stopped = false;
  let lost: ConflictError | null = null;
  let inFlight: Promise<void> | null = null;

  const lose = (err: ConflictError) => {
    if (lost) return;
    lost = err;
    clearInterval(timer);
    o.onLost(err);
  };
  const renewOnce = async () => {
    const next = { ...lease, expiresAt: new Date(now() + ttl).toISOString() };
    const text = render(next);
    try {
      version = await replaceWhenFree(dest, text, version);
      lease = next;
    } catch (err) {
      const current = await dest.readVersioned(DESTINATION_LOCK_FILE, MAX_LEASE_BYTES).catch(() => undefined);
      // The write went through and only its answer was lost.
      if (current && current.data.toString('utf8') === text) {
        version = current.version;
        lease = next;
        return;
      }
      if (err instanceof VersionMismatchError) {
        const parsed = current ? parseLease(current.data) : null;
        const by = parsed && 'lease' in parsed ? ` by tandem ${parsed.lease.verb} on host ${printableLine(parsed.lease.host)} pid ${parsed.lease.pid}` : current === null ? ' (it was removed)' : ' (it was replaced)';
        throw new ConflictError(`the destination lock of ${where} was taken${by} while this tandem ${lease.verb} held it: stopping`, { file: DESTINATION_LOCK_FILE });
      }
      if (now() >= Date.parse(lease.expiresAt))
        throw new ConflictError(`could not renew the destination lock of ${where} before it expired (${errorMessage(err)}): stopping, another coordinator may take it now`, { file: DESTINATION_LOCK_FILE });
      o.warn(`could not renew the destination lock of ${where} (${errorMessage(err)}); trying again, it expires at ${lease.expiresAt}`);
    }
  };
  const renew = async () => {
    if (lost) throw lost;
    if (stopped) return;
    // One renewal at a time: each needs the version the last one wrote.
    inFlight ??= renewOnce()
      .catch((err) => lose(err instanceof ConflictError ? err : new ConflictError(errorMessage(err))))
      .finally(() => (inFlight = null));
    await inFlight;
    if (lost) throw lost;
  };
  // unref: a lease alone never keeps the process alive; the run does.
  const timer = setInterval(() => void renew().catch(() => undefined), o.renewEveryMs ?? LEASE_RENEW_MS);
  timer.unref();

  return {
    get lease() {
      return lease;
    },
    renew,
    release: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await inFlight?.catch(() => undefined);
      if (lost) return;
      try {
        // Read, compared, then removed: not expired, the lease cannot change hands in between.
        const current = await dest.readVersioned(DESTINATION_LOCK_FILE, MAX_LEASE_BYTES);
        if (current?.version === version) await dest.remove(DESTINATION_LOCK_FILE);
      } catch (err) {
        o.warn(`could not remove the destination lock of ${where} (${errorMessage(err)}); it expires at ${lease.expiresAt}`);
      }
    },
  };
}
