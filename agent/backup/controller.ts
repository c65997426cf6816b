/**
 * Runs the agent's side of the two-phase backup: Prepare (checks, set-up, lease), Commit (the
 * cut, then shipping in the background), Abort (undo what is not finished). Calls are serialised and
 * idempotent by backup id; every state change is persisted before it is acknowledged.
 * Everything that can cancel or undo work (Abort, a lease, an undo) is keyed by backup id, so a
 * call about one backup can never stop or remove another's.
 */
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openDestination, type Destination } from '../../shared/destination';
import { ConflictError, NotFoundError, PreconditionError, TandemError, errorMessage, firstIssue, oneLine } from '../../shared/errors';
import type { BackupPlan } from '../../shared/generated/tandem/v2/agent';
import type { Logger } from '../../shared/log';
import { NODE_PART_FORMAT, nodePartSchema, ROLE_SCHEMAS, type NodePart, type SetFile } from '../../shared/parts';
import { writeReferenced } from '../../shared/parts/io';
import { NO_METRICS, type AgentMetrics, type BackupOutcome } from '../metrics';
import type { CheckResult, Role, RoleContext } from '../roles/role';
import { parentSet, type ParentSet } from './parent';
import { parsePlan } from './plan';
import { Leases } from './leases';
import { isActive, isTerminal, preparedRecord, transition, type BackupRecord, type PlanRecord } from './state';
import type { PersistedState, StateStore } from './store';
import { shipCounts, Timelines } from './timeline';

/** The answer to Prepare. */
export interface Vote {
  yes: boolean;
  checks: (CheckResult & { role: string })[];
  reason: string;
  leaseExpiresAt: number;
}

/** A backup's terminal state as the metrics' outcome. */
const OUTCOMES: Record<BackupRecord['state'], BackupOutcome> = { done: 'success', failed: 'failure', aborted: 'aborted', prepared: 'aborted', committed: 'aborted', shipping: 'aborted' };

/** The failed checks as one reason, '' when every check passed. */
function failureReason(checks: Vote['checks']): string {
  return checks.filter((c) => !c.ok).map((c) => `${c.role}: ${c.message}`).join('; ');
}

/** Coordinates the roles of one agent through the backup state machine. */
export class BackupController {
  /** Emits 'update' with a BackupRecord on every state or progress change. */
  readonly events = new EventEmitter();
  private state: PersistedState;
  private queue: Promise<unknown> = Promise.resolve();
  /** The leases of prepared backups (monotonic clock). */
  private readonly leases = new Leases(() => this.now());
  /** The signal of each backup's running work (prepare, commit, ship), by id. */
  private readonly running = new Map<string, AbortController>();
  /** Background work after Commit (shipping, or cleanup after a failed commit), by id. */
  private readonly shipping = new Map<string, Promise<void>>();
  /** Aborted by close(): stops checks that belong to no prepared backup (Preflight). */
  private readonly closing = new AbortController();
  /** Parent sets read for backups still shipping, by `<backup id>/<parent id>`. */
  private readonly parents = new Map<string, ParentSet>();
  /** The backup whose Prepare is under way (its checks and set-up), before it has a record. */
  private preparing: string | null = null;
  /** Why a backup may not start now (a restore runs on this node), or null. */
  private restoreRunning: () => string | null = () => null;
  /** Where each backup's time goes, until its part.json is written. */
  private readonly timelines: Timelines;

  constructor(
    private readonly node: string,
    private readonly roles: readonly Role[],
    private readonly store: StateStore,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics = NO_METRICS,
    private readonly now: () => number = Date.now,
  ) {
    this.state = store.load();
    this.events.setMaxListeners(100);
    this.timelines = new Timelines(log, () => this.now());
  }

  /** The backup being worked on, if any. */
  get current(): BackupRecord | null {
    return this.state.current ? this.state.backups[this.state.current] ?? null : null;
  }

  /**
   * The backup that holds this node (being prepared, prepared, committed or shipping) as
   * "<id> (<state>)", or null: a restore is refused while there is one.
   */
  get busyWith(): string | null {
    if (this.preparing) return `${this.preparing} (preparing)`;
    const cur = this.current;
    return cur && isActive(cur.state) ? `${cur.plan.backupId} (${cur.state})` : null;
  }

  /** Prepare votes no while `running` returns a reason (the restore controller: a restore runs on this node). */
  excludeWhile(running: () => string | null): void {
    this.restoreRunning = running;
  }

  /** At start-up: aborts and cleans up any backup a previous run left active, then lets roles clear debris. */
  async recover(): Promise<void> {
    const rec = this.current;
    if (rec && isActive(rec.state)) {
      this.log.warn({ backupId: rec.plan.backupId, state: rec.state }, 'agent restarted during a backup; cleaning it up');
      await this.undo(rec, `agent restarted while the backup was ${rec.state}; it was cleaned up`);
    }
    for (const role of this.roles) await role.recover(null, this.log.child({ role: role.name }));
    // What an earlier undo could not remove (a service that was down) is tried again, in the background.
    for (const r of Object.values(this.state.backups).filter((x) => x.state === 'aborted' && x.debris?.length)) {
      void this.serial(() => this.undoDebris(r)).catch((err) => this.log.warn({ backupId: r.plan.backupId, err: errorMessage(err) }, 'debris still left'));
    }
  }

  /** The record of one backup, or NotFoundError. */
  status(backupId: string): BackupRecord {
    const rec = this.state.backups[backupId];
    if (!rec) throw new NotFoundError(`this agent knows no backup ${backupId}`, { backupId });
    return rec;
  }

  /** Read-only checks of every role. */
  async preflight(input: BackupPlan | undefined): Promise<Vote> {
    const plan = parsePlan(input);
    const checks = await this.runChecks(plan, this.closing.signal);
    const reason = failureReason(checks);
    return { yes: !reason, checks, reason, leaseExpiresAt: 0 };
  }

  /** Phase one. Votes no, with a reason, rather than throwing for anything an operator can fix. */
  prepare(input: BackupPlan | undefined): Promise<Vote> {
    const received = this.now();
    return this.serial(async () => {
      const plan = parsePlan(input);
      const known = this.state.backups[plan.backupId];
      if (known?.state === 'prepared') return { yes: true, checks: [], reason: '', leaseExpiresAt: known.leaseExpiresAt };
      if (known) return this.no(`backup ${plan.backupId} is already ${known.state} on this node`);
      const cur = this.current;
      if (cur && isActive(cur.state)) return this.no(`node is busy with backup ${cur.plan.backupId} (${cur.state})`);
      // Checked and claimed in one synchronous step: a restore phase that starts from now on sees
      // this backup (busyWith) and is refused, and one that runs now refuses this backup.
      const restoring = this.restoreRunning();
      if (restoring) return this.no(`${restoring}; back up after it`);
      this.preparing = plan.backupId;
      try {
        const vote = await this.prepareNew(plan);
        if (vote.yes) this.timelines.add(plan.backupId, { phase: 'prepare', startedAt: received, endedAt: this.now() });
        return vote;
      } finally {
        this.preparing = null;
      }
    });
  }

  /** Prepare of a backup this node has no record of, and nothing else running. */
  private async prepareNew(plan: PlanRecord): Promise<Vote> {
    const checks = await this.runChecks(plan, this.signalOf(plan.backupId));
    const reason = failureReason(checks);
    if (reason) {
      this.running.delete(plan.backupId); // nothing was reserved, nothing will run
      this.log.info({ backupId: plan.backupId, reason }, 'voting no');
      return { ...this.no(reason), checks };
    }
    const started = this.now();
    let rec = preparedRecord(plan, started);
    this.put(rec, true);
    try {
      for (const role of this.roles) await role.prepare(this.context(rec, role));
    } catch (err) {
      await this.undo(rec, `prepare failed: ${errorMessage(err)}`);
      return { ...this.no(`prepare failed: ${errorMessage(err)}`), checks };
    }
    rec = { ...rec, leaseExpiresAt: this.now() + plan.leaseMs };
    this.put(rec, true);
    this.armLease(rec);
    this.metrics.phase('backup', 'prepare', (this.now() - started) / 1000);
    this.log.info({ backupId: plan.backupId, leaseExpiresAt: rec.leaseExpiresAt }, 'prepared');
    return { yes: true, checks, reason: '', leaseExpiresAt: rec.leaseExpiresAt };
  }

  /** Phase two: takes every role's cut now, then ships in the background. */
  commit(backupId: string): Promise<BackupRecord> {
    const received = this.now();
    return this.serial(async () => {
      let rec = this.status(backupId);
      if (rec.state !== 'prepared') {
        if (rec.state === 'aborted') throw new ConflictError(`backup ${backupId} was aborted on this node: ${rec.error}`);
        return rec; // committed, shipping, done, failed: a repeated Commit gets the same answer
      }
      if (this.leases.over(rec)) {
        await this.undo(rec, 'lease expired before Commit arrived');
        throw new ConflictError(`backup ${backupId}: lease expired before Commit arrived; it was aborted`);
      }
      this.leases.clear(backupId);
      const committedAt = this.now();
      rec = transition(rec, 'committed', committedAt, { committedAt });
      this.put(rec, true);
      const commits: Record<string, unknown> = {};
      try {
        await Promise.all(this.roles.map(async (r) => {
          const cut = await this.timelines.timed(backupId, { phase: 'cut', role: r.name }, () => r.commit(this.context(rec, r)));
          commits[r.name] = checked(r.name, 'commit', cut);
        }));
      } catch (err) {
        rec = transition({ ...rec, commits }, 'failed', this.now(), { error: `commit failed: ${errorMessage(err)}` });
        this.put(rec, true);
        this.log.error({ backupId, err: errorMessage(err) }, 'commit failed');
        this.background(backupId, this.cleanupAll(rec));
        return rec;
      }
      rec = transition({ ...rec, commits }, 'shipping', this.now());
      this.put(rec, true);
      this.timelines.add(backupId, { phase: 'commit', startedAt: received, endedAt: this.now() });
      this.metrics.phase('backup', 'commit', (this.now() - committedAt) / 1000);
      this.metrics.snapshot(backupId, committedAt);
      this.log.info({ backupId, commits }, 'committed; shipping');
      this.background(backupId, this.ship(rec));
      return rec;
    });
  }

  /**
   * Undoes what was done for this backup id and nothing else: a prepared, committed, shipping or
   * failed backup is cleaned up and becomes aborted. An id this agent never prepared is a no-op
   * (null). A done backup is undone only while its set has no manifest (the run that made it
   * failed elsewhere and its coordinator cleans up); once the set is complete it never is, and is
   * returned as it is.
   */
  abort(backupId: string, reason: string): Promise<BackupRecord | null> {
    // Stop this backup's own running work first, so the queued abort does not wait for a long
    // transfer. Only the current active backup has running work to stop.
    const known = this.state.backups[backupId];
    if (known && isActive(known.state) && this.state.current === backupId) this.running.get(backupId)?.abort();
    return this.serial(async () => {
      const rec = this.state.backups[backupId];
      if (!rec) return null;
      if (rec.state === 'aborted') return rec.debris?.length ? this.undoDebris(rec) : rec;
      if (rec.state === 'done' && (await this.setIsComplete(rec))) {
        // Its parts are part of a complete set: undoing them would empty a set whose manifest
        // still calls it complete.
        this.log.warn({ backupId, reason }, 'Abort of a backup whose set is complete: nothing is undone');
        return rec;
      }
      await this.shipping.get(backupId);
      return undone(await this.undo(this.state.backups[backupId], reason || 'aborted by the coordinator'));
    });
  }

  /** Tries again what an earlier undo of this aborted backup could not remove. */
  private async undoDebris(rec: BackupRecord): Promise<BackupRecord> {
    const problems = await this.undoSteps(rec);
    const out = { ...rec, debris: problems, updatedAt: this.now() };
    this.put(out, false);
    this.log.info({ backupId: rec.plan.backupId, left: problems.length }, problems.length ? 'debris still left' : 'debris removed');
    return undone(out);
  }

  /** True when the backup's set has its manifest, or when that cannot be told (then nothing is undone). */
  private async setIsComplete(rec: BackupRecord): Promise<boolean> {
    try {
      return (await openDestination(rec.plan.destination).stat(`${rec.plan.backupId}/manifest.json`)) !== null;
    } catch (err) {
      this.log.error({ backupId: rec.plan.backupId, err: errorMessage(err) }, 'cannot tell whether the set is complete; its parts are kept');
      return true;
    }
  }

  /** Stops timers; running work is aborted (it is cleaned up at the next start). */
  close(): void {
    this.leases.clearAll();
    for (const c of this.running.values()) c.abort();
    this.closing.abort();
  }

  private async ship(start: BackupRecord): Promise<void> {
    const backupId = start.plan.backupId;
    try {
      const record: NodePart = { format: NODE_PART_FORMAT, backupId, node: this.node, committedAt: start.committedAt, commits: start.commits, parts: {}, files: [], references: [], listed: { files: 0, bytes: 0 } };
      for (const role of this.roles) {
        const r = await this.timelines.timed(backupId, { phase: 'ship', role: role.name }, () => role.ship(this.context(start, role), start.commits[role.name]), shipCounts);
        (record.parts as Record<string, unknown>)[role.name] = checked(role.name, 'part', r.part);
        record.files.push(...r.files.map((f): SetFile => ({ ...f, node: this.node, role: role.name })));
        record.references.push(...(r.references ?? []).map((f) => ({ ...f, node: this.node, role: role.name })));
        record.listed.files += r.listed?.files ?? 0;
        record.listed.bytes += r.listed?.bytes ?? 0;
      }
      record.timeline = this.timelines.spans(backupId);
      const part = await this.writeNodePart(start, record);
      for (const role of this.roles) await role.cleanup(this.context(start, role));
      const archived = record.files.reduce((n, f) => n + f.size, 0);
      const stored = { files: record.files.length + record.listed.files + 1, bytes: archived + record.listed.bytes + part.size };
      this.metrics.shipped(archived, stored.bytes);
      this.metrics.phase('backup', 'ship', (this.now() - start.updatedAt) / 1000);
      const rec = transition(this.state.backups[backupId], 'done', this.now(), { part, stored });
      this.put(rec, true);
      this.log.info({ backupId, ...stored }, 'shipped');
    } catch (err) {
      const cur = this.state.backups[backupId];
      if (cur.state !== 'shipping') return;
      const rec = transition(cur, 'failed', this.now(), { error: `ship failed: ${errorMessage(err)}` });
      this.put(rec, true);
      this.log.error({ backupId, err: errorMessage(err) }, 'ship failed');
      await this.cleanupAll(rec);
    } finally {
      for (const k of this.parents.keys()) if (k.startsWith(`${backupId}/`)) this.parents.delete(k);
      this.timelines.forget(backupId);
      await rm(this.workDir(backupId), { recursive: true, force: true });
    }
  }

  /** Writes `<id>/<node>/part.json`, the node's record that the coordinator puts into the manifest. */
  private async writeNodePart(rec: BackupRecord, record: NodePart) {
    return writeReferenced(openDestination(rec.plan.destination), `${rec.plan.backupId}/${this.node}/part.json`, JSON.stringify(nodePartSchema.parse(record)) + '\n');
  }

  /** Role abort + cleanup, then the aborted state. Never throws: what cannot be undone is logged. */
  private async undo(rec: BackupRecord, reason: string): Promise<BackupRecord> {
    this.leases.clear(rec.plan.backupId);
    this.timelines.forget(rec.plan.backupId);
    const problems = await this.undoSteps(rec);
    if (problems.length) this.log.error({ backupId: rec.plan.backupId, problems }, 'abort left debris; the next Abort (or the next start) retries it');
    const out = transition(rec, 'aborted', this.now(), { error: [reason, ...problems].join('; '), debris: problems });
    this.put(out, false);
    this.log.info({ backupId: rec.plan.backupId, reason }, 'aborted');
    return out;
  }

  /** Every role's abort and cleanup, and the node's folder at the destination; what could not be done. */
  private async undoSteps(rec: BackupRecord): Promise<string[]> {
    const problems: string[] = [];
    for (const role of this.roles) {
      const ctx = this.context(rec, role, new AbortController().signal);
      for (const step of ['abort', 'cleanup'] as const) {
        try {
          await role[step](ctx);
        } catch (err) {
          problems.push(`${role.name} ${step}: ${errorMessage(err)}`);
        }
      }
    }
    try {
      // Everything this node stores lives under <id>/<node>/: the folder goes, not only its files.
      await openDestination(rec.plan.destination).remove(`${rec.plan.backupId}/${this.node}`);
    } catch (err) {
      problems.push(`${rec.plan.backupId}/${this.node}: ${errorMessage(err)}`);
    }
    await rm(this.workDir(rec.plan.backupId), { recursive: true, force: true });
    return problems;
  }

  private async cleanupAll(rec: BackupRecord): Promise<void> {
    for (const role of this.roles) {
      await role.cleanup(this.context(rec, role, new AbortController().signal)).catch((err) =>
        this.log.error({ role: role.name, err: errorMessage(err) }, 'cleanup failed'),
      );
    }
  }

  /** The lease of a prepared backup: when it ends without Commit or Abort, the backup is undone. */
  private armLease(rec: BackupRecord): void {
    const backupId = rec.plan.backupId;
    this.leases.arm(rec, () => void this.serial(async () => {
      const cur = this.state.backups[backupId];
      if (cur?.state === 'prepared') {
        this.log.warn({ backupId }, 'lease expired without Commit or Abort; aborting');
        await this.undo(cur, 'lease expired without Commit or Abort');
      }
    }));
  }

  /** Keeps a backup's background work, so that its Abort can wait for it; forgotten once settled. */
  private background(backupId: string, work: Promise<void>): void {
    const kept = work.finally(() => {
      if (this.shipping.get(backupId) === kept) this.shipping.delete(backupId);
    });
    this.shipping.set(backupId, kept);
  }

  /** The signal of this backup's running work; a new one once the last was aborted. */
  private signalOf(backupId: string): AbortSignal {
    let c = this.running.get(backupId);
    if (!c || c.signal.aborted) {
      c = new AbortController();
      this.running.set(backupId, c);
    }
    return c.signal;
  }

  private async runChecks(plan: PlanRecord, signal: AbortSignal): Promise<Vote['checks']> {
    const rec = preparedRecord(plan, this.now());
    const all: Vote['checks'] = [];
    for (const role of this.roles) {
      try {
        for (const c of await role.preflight(this.context(rec, role, signal))) all.push({ ...c, message: oneLine(c.message), role: role.name });
      } catch (err) {
        all.push({ role: role.name, name: 'preflight', ok: false, message: oneLine(errorMessage(err)) });
      }
    }
    try {
      await openDestination(plan.destination).checkWritable();
    } catch (err) {
      all.push({ role: 'agent', name: 'destination', ok: false, message: oneLine(errorMessage(err)) });
    }
    return all;
  }

  private no(reason: string): Vote {
    return { yes: false, checks: [], reason, leaseExpiresAt: 0 };
  }

  private context(rec: BackupRecord, role: Role, signal = this.signalOf(rec.plan.backupId)): RoleContext {
    const destination: Destination = openDestination(rec.plan.destination);
    return {
      backupId: rec.plan.backupId,
      tag: rec.plan.tag,
      node: this.node,
      options: rec.plan.options,
      destination,
      parent: this.parentOf(rec, destination),
      workDir: join(this.workDir(rec.plan.backupId), role.name),
      signal,
      log: this.log.child({ backupId: rec.plan.backupId, role: role.name }),
      progress: (u) => this.progress(rec.plan.backupId, role.name, u),
      span: (s) => this.timelines.add(rec.plan.backupId, { ...s, role: role.name }),
    };
  }

  /** The backup's parent set, read once per backup whichever role asks first. */
  private parentOf(rec: BackupRecord, destination: Destination): ParentSet | null {
    const ref = rec.plan.parent;
    if (!ref) return null;
    const key = `${rec.plan.backupId}/${ref.backupId}`;
    let p = this.parents.get(key);
    if (!p) this.parents.set(key, (p = parentSet(ref, destination, this.node)));
    return p;
  }

  private workDir(backupId: string): string {
    return join(this.store.dir, 'work', backupId);
  }

  private progress(backupId: string, role: string, u: Parameters<RoleContext['progress']>[0]): void {
    const rec = this.state.backups[backupId];
    if (!rec) return;
    const entry = { role, bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, ...u };
    const progress = [...rec.progress.filter((p) => p.role !== role), entry];
    this.put({ ...rec, progress, updatedAt: this.now() }, false);
  }

  private put(rec: BackupRecord, persist: boolean): void {
    const id = rec.plan.backupId;
    // A backup ends once: from an active state into a terminal one (a done or failed backup undone later is not counted again).
    const before = this.state.backups[id]?.state;
    if (isTerminal(rec.state) && (before === undefined || isActive(before))) this.metrics.backupEnded(OUTCOMES[rec.state], this.now());
    this.state.backups[id] = rec;
    // A record that ends (an old failed backup undone, say) must not take the place of the current one.
    if (!isTerminal(rec.state)) this.state.current = id;
    else if (this.state.current === id) this.state.current = null;
    // Its work is over: nothing is left to signal.
    if (isTerminal(rec.state)) this.running.delete(id);
    if (persist || isTerminal(rec.state)) this.store.save(this.state);
    this.events.emit('update', rec);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** A role's record checked against its schema: a role that breaks its own contract fails the backup, by name. */
function checked(role: Role['name'], what: 'commit' | 'part', value: unknown): unknown {
  const r = ROLE_SCHEMAS[role][what].safeParse(value);
  if (!r.success) throw new TandemError(`${role} ${what} record does not match its schema (a bug): ${firstIssue(r.error)}`);
  return r.data;
}

/**
 * An Abort that left debris did not finish: the caller hears it as an error (and its coordinator
 * keeps the run open to send the Abort again) rather than a clean ABORTED.
 */
function undone(rec: BackupRecord): BackupRecord {
  if (!rec.debris?.length) return rec;
  throw new PreconditionError(`backup ${rec.plan.backupId} is aborted on this node, but its undo left: ${rec.debris.join('; ')}; send Abort again once that is reachable`);
}
