/**
 * Runs restore phases on this agent. The coordinator holds the barriers between phases; a restore
 * that crashed is resumed by running its phases again with the same restore id: phases that
 * change the target and finished are recorded and not run twice, the others are idempotent.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Destination, DestinationOpener } from '../../shared/destination';
import { restoreDestination } from '../../shared/encrypted-set';
import { agentDestinationOpener } from '../destination-credentials';
import { ConflictError, NotFoundError, ValidationError, errorMessage } from '../../shared/errors';
import type { PhaseReport, RestoreRequest } from '../../shared/generated/tandem/v2/agent';
import type { Logger } from '../../shared/log';
import { manifestPath } from '../../shared/destination/layout';
import { manifestDigest, parseManifest, type Manifest } from '../../shared/manifest';
import { MANIFEST_MAX_BYTES, readCapped } from '../../shared/signing';
import { BACKUP_ID } from '../../shared/names';
import { fromWireDestination } from '../../shared/wire/destination';
import { fromWirePhase, fromWireRestoreOptions } from '../../shared/wire/restore';
import { BETWEEN_PHASES_MS, type RestorePhase } from '../../shared/contract';
import type { BackupController } from '../backup/controller';
import { NO_METRICS, type AgentMetrics } from '../metrics';
import { isRestorable, type PhaseOutcome, type ProgressUpdate, type Role } from '../roles/role';

/** Phases run at most once per restore id and role; check, verify and cleanup may run again. */
const ONCE = new Set(['fetch', 'schema', 'load']);

/**
 * After a phase ends well, the restore still counts as running for BETWEEN_PHASES_MS. A restore
 * whose phase failed, that ran its cleanup, or whose coordinator said its run ended (EndRestore),
 * runs no more: only a coordinator that died between phases leaves the hold to run out.
 */
export { BETWEEN_PHASES_MS };

/** The restore this node works on, or worked on last. */
export interface Activity {
  restoreId: string;
  backupId: string;
  phase: RestorePhase;
  /** When the phase started, by this agent's clock. */
  startedAt: number;
  /** When the phase ended; null while it runs. */
  endedAt: number | null;
  ok: boolean;
  /** The phase's last progress by role, for GetRestoreStatus. */
  progress: Map<string, ProgressUpdate>;
  /** Why the phase failed; empty otherwise. */
  error: string;
  /** The coordinator said its run of this restore ended (EndRestore): no phase follows. */
  ended: boolean;
}

/** What a restore id was started with, recorded at its first phase (restore.json in its work folder). */
interface Identity {
  backupId: string;
  /** sha256 of the destination and this node's options. */
  fingerprint: string;
}

/** Runs one restore phase at a time on this node's restorable roles. */
export class RestoreController {
  private activity: Activity | null = null;
  /** Restore ids in which a phase failed or reported problems on this agent (counted as failures). */
  private readonly failed = new Set<string>();
  /** Restore ids whose folder ClearRestore is removing: no phase of them starts meanwhile. */
  private readonly clearing = new Set<string>();

  constructor(
    private readonly node: string,
    private readonly roles: readonly Role[],
    private readonly stateDir: string,
    private readonly backups: BackupController,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics = NO_METRICS,
    private readonly now: () => number = Date.now,
    /** Opens the destination a restore reads with this agent's keys; default: none configured (the AWS SDK's default chain). */
    private readonly openDestination: DestinationOpener = agentDestinationOpener({}),
  ) {
    backups.excludeWhile(() => this.running());
  }

  /** The restore that runs on this node (a phase runs, or the next is due), in words; null when none. */
  running(): string | null {
    const a = this.activity;
    if (!a) return null;
    if (a.endedAt === null) return `restore ${a.restoreId} of backup ${a.backupId} is running on this node (phase ${a.phase})`;
    if (betweenPhases(a, this.now())) {
      return `restore ${a.restoreId} of backup ${a.backupId} is running on this node (between phases, after ${a.phase}; the hold ends within ${Math.ceil((a.endedAt + BETWEEN_PHASES_MS - this.now()) / 1000)} s)`;
    }
    return null;
  }

  /**
   * EndRestore: the coordinator's run of `restoreId` has ended, so no phase follows and backups
   * need not wait out the hold. A phase still settling (the run was interrupted) ends unheld too.
   * False when this agent is not working on that restore.
   */
  end(restoreId: string): boolean {
    checkRestoreId(restoreId);
    const a = this.activity;
    if (!a || a.restoreId !== restoreId) return false;
    if (!a.ended) this.log.info({ restoreId, phase: a.phase }, 'restore ended by its coordinator: backups are no longer held');
    a.ended = true;
    return true;
  }

  /**
   * ClearRestore: removes what `restoreId` left on this node (restore.json, the phase markers,
   * the working folders with fetched archives), for a restore that will not be resumed. Refused
   * while a phase of it runs or its coordinator may still start the next one.
   */
  async clear(restoreId: string): Promise<{ existed: boolean; backupId: string }> {
    checkRestoreId(restoreId);
    const a = this.activity?.restoreId === restoreId ? this.activity : null;
    if (a?.endedAt === null) {
      throw new ConflictError(`restore ${restoreId} is running on this node (phase ${a.phase}): stop its 'tandem restore' first (Ctrl-C), then clear it`);
    }
    if (a && betweenPhases(a, this.now())) {
      throw new ConflictError(`restore ${restoreId} is between phases on this node (after ${a.phase}) and its coordinator has not ended it: it may start the next phase; stop that run, or wait ${Math.ceil((a.endedAt! + BETWEEN_PHASES_MS - this.now()) / 1000)} s`);
    }
    if (this.clearing.has(restoreId)) throw new ConflictError(`restore ${restoreId} is being cleared on this node already`);
    this.clearing.add(restoreId);
    try {
      const root = this.workRoot(restoreId);
      const record = await readFile(join(root, 'restore.json'), 'utf8').then((t) => JSON.parse(t) as Partial<Identity>, () => null);
      const existed = await stat(root).then(() => true, () => false);
      await rm(root, { recursive: true, force: true });
      this.failed.delete(restoreId);
      if (a) a.ended = true;
      const backupId = typeof record?.backupId === 'string' && BACKUP_ID.test(record.backupId) ? record.backupId : '';
      if (existed) this.log.info({ restoreId, backupId }, 'restore record cleared');
      return { existed, backupId };
    } finally {
      this.clearing.delete(restoreId);
    }
  }

  /**
   * Where restore `restoreId` is on this node (`tandem status` asks from another terminal); a copy.
   * Only the phase running or the last one is known, and only since the agent started: NotFoundError otherwise.
   */
  status(restoreId: string): Activity {
    const a = this.activity;
    if (!a || a.restoreId !== restoreId) {
      throw new NotFoundError(`this agent has run no phase of restore ${restoreId} since it started${a ? ` (its last restore is ${a.restoreId})` : ''}`, { restoreId });
    }
    return { ...a, progress: new Map(a.progress) };
  }

  /** Runs the phase on every role that has a part to restore; results by role. */
  async run(input: RestoreRequest, signal: AbortSignal, onProgress: (role: string, update: ProgressUpdate) => void = () => undefined): Promise<PhaseReport[]> {
    const req = parse(input);
    // Checked and claimed in one synchronous step, as Prepare does on its side.
    const backup = this.backups.busyWith;
    if (backup) throw new ConflictError(`backup ${backup} holds this node; restore after it has ended`);
    const other = this.activity;
    if (other?.endedAt === null) throw new ConflictError(`restore phase ${other.restoreId}/${other.phase} is already running on this node`);
    if (this.clearing.has(req.restoreId)) throw new ConflictError(`restore ${req.restoreId} is being cleared on this node: start a new restore`);
    const activity: Activity = { restoreId: req.restoreId, backupId: req.backupId, phase: req.phase, startedAt: this.now(), endedAt: null, ok: false, progress: new Map(), error: '', ended: false };
    // The check phase (tandem verify asks it too) only reads: it keeps no backup out once it ended.
    const previous = this.activity;
    this.activity = activity;
    const log = this.log.child({ restoreId: req.restoreId, phase: req.phase });
    const reports: PhaseReport[] = [];
    const started = Date.now();
    try {
      await this.checkIdentity(req);
      const stored = this.openDestination(req.destination);
      const manifest = await readCheckedManifest(stored, req.backupId, input.manifestSha256);
      // The set identity stays in memory (the request and this object): restore.json records only a fingerprint of the rest.
      const destination = restoreDestination(stored, manifest, input.setIdentities);
      for (const role of this.roles.filter(isRestorable)) {
        if (req.options.skipRoles.includes(role.name)) continue;
        // A phase that changes the target is done once per restore id: resuming after a crash must
        // not, say, truncate tables that the load phase already filled.
        const marker = ONCE.has(req.phase) ? join(this.workRoot(req.restoreId), `${role.name}.${req.phase}.done.json`) : null;
        const recorded = marker ? await readFile(marker, 'utf8').catch(() => null) : null;
        if (recorded !== null) {
          log.info({ role: role.name }, 'restore phase already done for this restore id');
          reports.push(report(role.name, JSON.parse(recorded) as PhaseOutcome | null));
          continue;
        }
        log.info({ role: role.name }, 'restore phase');
        const outcome = await role.restore(req.phase, {
          restoreId: req.restoreId,
          backupId: req.backupId,
          node: this.node,
          manifest,
          destination,
          options: req.options,
          workDir: join(this.workRoot(req.restoreId), role.name),
          signal,
          progress: (update) => {
            activity.progress.set(role.name, update);
            onProgress(role.name, update);
          },
          log: log.child({ role: role.name }),
        });
        if (marker) await markDone(marker, outcome);
        reports.push(report(role.name, outcome));
      }
      if (req.phase === 'cleanup') await rm(this.workRoot(req.restoreId), { recursive: true, force: true });
      activity.ok = true;
      this.metrics.phase('restore', req.phase, (Date.now() - started) / 1000);
      if (reports.some((r) => !r.ok)) this.failure(req.restoreId);
      // Cleanup is the last phase of a restore that went through: it succeeded unless a phase failed.
      else if (req.phase === 'cleanup' && !this.failed.has(req.restoreId)) this.metrics.restoreEnded('success', Date.now());
      return reports;
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'restore phase failed');
      activity.error = errorMessage(err);
      this.failure(req.restoreId);
      throw err;
    } finally {
      activity.endedAt = this.now();
      if (req.phase === 'check') this.activity = previous;
    }
  }

  /**
   * A restore id stands for one backup id, destination and set of options: the first phase that
   * changes the target records them, and a resumed restore that names others is refused (its
   * recorded phases belong to the first). The read-only check phase records nothing.
   */
  private async checkIdentity(req: ReturnType<typeof parse>): Promise<void> {
    const file = join(this.workRoot(req.restoreId), 'restore.json');
    const mine: Identity = { backupId: req.backupId, fingerprint: fingerprint(req) };
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) {
      if (req.phase !== 'check') await markDone(file, mine);
      return;
    }
    const recorded = JSON.parse(text) as Identity;
    if (recorded.backupId !== req.backupId) {
      throw new ConflictError(`restore ${req.restoreId} was started with backup ${recorded.backupId}, not ${req.backupId}: resume it with backup ${recorded.backupId}, or start a new restore (without --restore-id)`);
    }
    if (recorded.fingerprint !== mine.fingerprint) {
      throw new ConflictError(`restore ${req.restoreId} of backup ${req.backupId} was started with other targets or options on this node: resume it with the same options, or start a new restore (without --restore-id)`);
    }
  }

  /** A failed phase ends the restore (the coordinator stops there); counted once per restore id. */
  private failure(restoreId: string): void {
    if (this.failed.has(restoreId)) return;
    this.failed.add(restoreId);
    this.metrics.restoreEnded('failure', Date.now());
  }

  private workRoot(restoreId: string): string {
    return join(this.stateDir, 'restore', restoreId);
  }
}

/** True while a restore that ended a phase well may still get its next phase (the hold). */
function betweenPhases(a: Activity, now: number): boolean {
  return a.endedAt !== null && a.ok && a.phase !== 'cleanup' && !a.ended && now - a.endedAt < BETWEEN_PHASES_MS;
}

/** A restore id, checked before it names a folder. */
function checkRestoreId(restoreId: string): void {
  if (!BACKUP_ID.test(restoreId)) throw new ValidationError(`restoreId: ${JSON.stringify(restoreId)} must match ${BACKUP_ID.source}`);
}

/** The digest of what a restore writes where: the destination it reads and this node's options. */
function fingerprint(req: ReturnType<typeof parse>): string {
  return createHash('sha256').update(canonical({ destination: req.destination, options: req.options })).digest('hex');
}

/** JSON with object keys sorted, so that equal values have one text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Records a finished phase (temp file + rename: a marker is never half written). */
async function markDone(marker: string, result: unknown): Promise<void> {
  await mkdir(dirname(marker), { recursive: true });
  await writeFile(`${marker}.tmp`, JSON.stringify(result ?? null));
  await rename(`${marker}.tmp`, marker);
}

/** At most this many problems travel per role; the count says how many there were. */
const MAX_PROBLEMS = 50;

/** The protocol's report of a role's phase outcome (null: the role had nothing to do). */
function report(role: string, o: PhaseOutcome | null): PhaseReport {
  const problems = o?.problems ?? [];
  return {
    role,
    ran: o !== null,
    ok: o?.ok ?? true,
    problems: problems.slice(0, MAX_PROBLEMS),
    problemCount: o?.problemCount ?? problems.length,
    detail: o?.detail ?? '',
    tables: o?.tables ?? [],
    indices: o?.indices ?? [],
    files: o?.files,
  };
}

/**
 * The manifest, read here rather than sent: it can be large, and the digest the coordinator sends
 * proves both sides restore the same set.
 */
async function readCheckedManifest(destination: Destination, backupId: string, sha256: string): Promise<Manifest> {
  // Capped: the destination is writable by others, and a planted multi-GiB manifest must not cost the agent its memory.
  const body = await readCapped(destination, manifestPath(backupId), MANIFEST_MAX_BYTES);
  if (!body) throw new NotFoundError(`${manifestPath(backupId)} is not at the destination: the set changed during the restore, or the agent reads another destination`);
  const got = manifestDigest(body);
  if (got !== sha256) {
    throw new ValidationError(`${manifestPath(backupId)} has sha256 ${got}, the coordinator read ${sha256 || 'none'}: the set changed during the restore, or the agent reads another destination`);
  }
  return parseManifest(body, backupId);
}

/** The request, validated; throws ValidationError naming the field. */
function parse(input: RestoreRequest) {
  for (const [field, v] of [['restoreId', input.restoreId], ['backupId', input.backupId]] as const) {
    if (!BACKUP_ID.test(v)) throw new ValidationError(`${field}: ${JSON.stringify(v)} must match ${BACKUP_ID.source}`);
  }
  if (!/^[0-9a-f]{64}$/.test(input.manifestSha256)) throw new ValidationError('manifestSha256: must be the sha256 of the manifest');
  return {
    restoreId: input.restoreId,
    backupId: input.backupId,
    phase: fromWirePhase(input.phase),
    destination: fromWireDestination(input.destination),
    options: fromWireRestoreOptions(input.options),
  };
}
