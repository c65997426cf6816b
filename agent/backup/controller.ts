/**
 * Runs the agent's side of the two-phase backup: Prepare (checks, set-up, lease), Commit (the
 * cut, then shipping in the background), Abort (undo what is not finished). Calls are serialised and
 * idempotent by backup id; every state change is persisted before it is acknowledged.
 * Everything that can cancel or undo work (Abort, a lease, an undo) is keyed by backup id, so a
 * call about one backup can never stop or remove another's.
 */
import type { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { ConflictError, NotFoundError, errorMessage } from '../../shared/errors';
import type { BackupPlan } from '../../shared/generated/tandem/v2/agent';
import type { DestinationOpener } from '../../shared/destination';
import type { Logger } from '../../shared/log';
import { agentDestinationOpener } from '../destination-credentials';
import { NO_METRICS, type AgentMetrics } from '../metrics';
import type { ProgressUpdate, Role, RoleContext } from '../roles/role';
import { failureReason, noVote, runChecks, type Vote } from './checks';
import { RoleContexts, withProgress } from './context';
import { cutRoles } from './cut';
import { parsePlan } from './plan';
import { Leases } from './leases';
import { BackupRecords } from './records';
import { shipNode } from './ship';
import { isActive, preparedRecord, transition, type BackupRecord, type PlanRecord } from './state';
import type { StateStore } from './store';
import { Timelines } from './timeline';
import { BackupUndo, setIsComplete, undone } from './undo';
import { BackupWork } from './work';

export type { Vote } from './checks';

/** Coordinates the roles of one agent through the backup state machine. */
export class BackupController {
  /** Emits 'update' with a BackupRecord on every state or progress change. */
  readonly events: EventEmitter;
  /** Every backup's record, saved before a change is acknowledged. */
  private readonly records: BackupRecords;
  private queue: Promise<unknown> = Promise.resolve();
  /** The leases of prepared backups (monotonic clock). */
  private readonly leases = new Leases(() => this.now());
  /** Each backup's running work and its background work after Commit, by id. */
  private readonly work = new BackupWork();
  /** Aborted by close(): stops checks that belong to no prepared backup (Preflight). */
  private readonly closing = new AbortController();
  /** The backup whose Prepare is under way (its checks and set-up), before it has a record. */
  private preparing: string | null = null;
  /** Why a backup may not start now (a restore runs on this node), or null. */
  private restoreRunning: () => string | null = () => null;
  /** Where each backup's time goes, until its part.json is written. */
  private readonly timelines: Timelines;
  /** The roles' contexts, and the parent sets of backups still shipping. */
  private readonly contexts: RoleContexts;
  /** Undoes backups and retries what an undo left. */
  private readonly undoing: BackupUndo;

  constructor(
    private readonly node: string,
    private readonly roles: readonly Role[],
    store: StateStore,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics = NO_METRICS,
    private readonly now: () => number = Date.now,
    /** Opens a plan's destination with this agent's keys; default: none configured (the AWS SDK's default chain). */
    openDestination: DestinationOpener = agentDestinationOpener({}),
  ) {
    this.records = new BackupRecords(store, this.work, metrics, () => this.now());
    this.events = this.records.events;
    this.timelines = new Timelines(log, () => this.now());
    this.contexts = new RoleContexts({ node, stateDir: store.dir, log, timelines: this.timelines, progress: (id, role, u) => this.progress(id, role, u), openDestination });
    this.undoing = new BackupUndo({ node, roles, records: this.records, leases: this.leases, timelines: this.timelines, contexts: this.contexts, log, now: () => this.now() });
  }

  /** The backup being worked on, if any. */
  get current(): BackupRecord | null {
    return this.records.current;
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
      await this.undoing.undo(rec, `agent restarted while the backup was ${rec.state}; it was cleaned up`);
    }
    for (const role of this.roles) await role.recover(null, this.log.child({ role: role.name }));
    // What an earlier undo could not remove (a service that was down) is tried again, in the background.
    for (const r of this.records.all().filter((x) => x.state === 'aborted' && x.debris?.length)) {
      void this.serial(() => this.undoing.retryDebris(r)).catch((err) => this.log.warn({ backupId: r.plan.backupId, err: errorMessage(err) }, 'debris still left'));
    }
  }

  /** The record of one backup, or NotFoundError. */
  status(backupId: string): BackupRecord {
    const rec = this.records.find(backupId);
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
      const known = this.records.find(plan.backupId);
      if (known?.state === 'prepared') return { yes: true, checks: [], reason: '', leaseExpiresAt: known.leaseExpiresAt };
      if (known) return noVote(`backup ${plan.backupId} is already ${known.state} on this node`);
      const cur = this.current;
      if (cur && isActive(cur.state)) return noVote(`node is busy with backup ${cur.plan.backupId} (${cur.state})`);
      // Checked and claimed in one synchronous step: a restore phase that starts from now on sees
      // this backup (busyWith) and is refused, and one that runs now refuses this backup.
      const restoring = this.restoreRunning();
      if (restoring) return noVote(`${restoring}; back up after it`);
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
    this.log.info({ backupId: plan.backupId }, 'preparing');
    const checks = await this.runChecks(plan, this.work.signal(plan.backupId));
    const reason = failureReason(checks);
    if (reason) {
      this.work.forget(plan.backupId); // nothing was reserved, nothing will run
      this.log.info({ backupId: plan.backupId, reason }, 'voting no');
      return { ...noVote(reason), checks };
    }
    const started = this.now();
    let rec = preparedRecord(plan, started);
    this.records.put(rec, true);
    try {
      for (const role of this.roles) await role.prepare(this.context(rec, role));
    } catch (err) {
      await this.undoing.undo(rec, `prepare failed: ${errorMessage(err)}`);
      return { ...noVote(`prepare failed: ${errorMessage(err)}`), checks };
    }
    rec = { ...rec, leaseExpiresAt: this.now() + plan.leaseMs };
    this.records.put(rec, true);
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
        await this.undoing.undo(rec, 'lease expired before Commit arrived');
        throw new ConflictError(`backup ${backupId}: lease expired before Commit arrived; it was aborted`);
      }
      this.leases.clear(backupId);
      const committedAt = this.now();
      rec = transition(rec, 'committed', committedAt, { committedAt });
      // Not saved until the cut is over: a restart undoes a prepared backup and a committed one
      // alike, and the fsync of state.json (tens of ms under a busy disk) would sit between Commit
      // and the snapshot, where every node must take it at the same instant.
      this.records.put(rec, false);
      const commits: Record<string, unknown> = {};
      try {
        await cutRoles({ backupId, roles: this.roles, timelines: this.timelines, contextOf: (r) => this.context(rec, r) }, commits);
      } catch (err) {
        rec = transition({ ...rec, commits }, 'failed', this.now(), { error: `commit failed: ${errorMessage(err)}` });
        this.records.put(rec, true);
        this.log.error({ backupId, err: errorMessage(err) }, 'commit failed');
        this.work.keep(backupId, this.undoing.cleanup(rec));
        return rec;
      }
      rec = transition({ ...rec, commits }, 'shipping', this.now());
      this.records.put(rec, true);
      this.timelines.add(backupId, { phase: 'commit', startedAt: received, endedAt: this.now() });
      this.metrics.phase('backup', 'commit', (this.now() - committedAt) / 1000);
      this.metrics.snapshot(backupId, committedAt);
      this.log.info({ backupId, commits }, 'committed; shipping');
      this.work.keep(backupId, this.ship(rec));
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
    const known = this.records.find(backupId);
    if (known && isActive(known.state) && this.records.currentId === backupId) this.work.stop(backupId);
    return this.serial(async () => {
      const rec = this.records.find(backupId);
      if (!rec) return null;
      if (rec.state === 'aborted') return rec.debris?.length ? this.undoing.retryDebris(rec) : rec;
      if (rec.state === 'done' && (await setIsComplete(rec, this.contexts.destination(rec.plan), this.log))) {
        // Its parts are part of a complete set: undoing them would empty a set whose manifest
        // still calls it complete.
        this.log.warn({ backupId, reason }, 'Abort of a backup whose set is complete: nothing is undone');
        return rec;
      }
      await this.work.pending(backupId);
      return undone(await this.undoing.undo(this.records.find(backupId)!, reason || 'aborted by the coordinator'));
    });
  }

  /** Stops timers; running work is aborted (it is cleaned up at the next start). */
  close(): void {
    this.leases.clearAll();
    this.work.stopAll();
    this.closing.abort();
  }

  /** The ship step in the background: done with what it stored, or failed and cleaned up; never throws on a role's failure. */
  private async ship(start: BackupRecord): Promise<void> {
    const backupId = start.plan.backupId;
    try {
      const { part, archived, stored } = await shipNode({ node: this.node, rec: start, roles: this.roles, timelines: this.timelines, contextOf: (role) => this.context(start, role), destination: this.contexts.destination(start.plan) });
      this.metrics.shipped(archived, stored.bytes);
      this.metrics.phase('backup', 'ship', (this.now() - start.updatedAt) / 1000);
      const rec = transition(this.records.find(backupId)!, 'done', this.now(), { part, stored });
      this.records.put(rec, true);
      this.log.info({ backupId, ...stored }, 'shipped');
    } catch (err) {
      const cur = this.records.find(backupId)!;
      if (cur.state !== 'shipping') return;
      const rec = transition(cur, 'failed', this.now(), { error: `ship failed: ${errorMessage(err)}` });
      this.records.put(rec, true);
      this.log.error({ backupId, err: errorMessage(err) }, 'ship failed');
      await this.undoing.cleanup(rec);
    } finally {
      this.contexts.forget(backupId);
      this.timelines.forget(backupId);
      await rm(this.contexts.workDir(backupId), { recursive: true, force: true });
    }
  }

  /** The lease of a prepared backup: when it ends without Commit or Abort, the backup is undone. */
  private armLease(rec: BackupRecord): void {
    const backupId = rec.plan.backupId;
    this.leases.arm(rec, () => void this.serial(async () => {
      const cur = this.records.find(backupId);
      if (cur?.state === 'prepared') {
        this.log.warn({ backupId }, 'lease expired without Commit or Abort; aborting');
        await this.undoing.undo(cur, 'lease expired without Commit or Abort');
      }
    }));
  }

  /** Every role's checks and the destination's, with contexts for a backup not prepared yet. */
  private runChecks(plan: PlanRecord, signal: AbortSignal): Promise<Vote['checks']> {
    const rec = preparedRecord(plan, this.now());
    return runChecks(this.roles, plan, (role) => this.context(rec, role, signal), this.contexts.destination(plan));
  }

  private context(rec: BackupRecord, role: Role, signal = this.work.signal(rec.plan.backupId)): RoleContext {
    return this.contexts.of(rec, role, signal);
  }

  private progress(backupId: string, role: string, u: ProgressUpdate): void {
    const rec = this.records.find(backupId);
    if (!rec) return;
    this.records.put(withProgress(rec, role, u, this.now()), false);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
