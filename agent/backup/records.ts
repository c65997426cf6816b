/**
 * The agent's records of its backups, as state.json holds them: every change is put here, saved
 * before it is acknowledged when it must survive a restart (and always when a backup ends),
 * counted once in the metrics when a backup ends, and announced to the status streams.
 */
import { EventEmitter } from 'node:events';
import type { AgentMetrics, BackupOutcome } from '../metrics';
import { isActive, isTerminal, type BackupRecord } from './state';
import type { PersistedState, StateStore } from './store';
import type { BackupWork } from './work';

/** A backup's terminal state as the metrics' outcome. */
const OUTCOMES: Record<BackupRecord['state'], BackupOutcome> = { done: 'success', failed: 'failure', aborted: 'aborted', prepared: 'aborted', committed: 'aborted', shipping: 'aborted' };

/** The records of this agent's backups, in memory and in state.json. */
export class BackupRecords {
  /** Emits 'update' with a BackupRecord on every state or progress change. */
  readonly events = new EventEmitter();
  private readonly state: PersistedState;

  /** `work` is told when a backup ends: nothing of it is left to signal. */
  constructor(
    private readonly store: StateStore,
    private readonly work: BackupWork,
    private readonly metrics: AgentMetrics,
    private readonly now: () => number,
  ) {
    this.state = store.load();
    this.events.setMaxListeners(100);
  }

  /** The backup being worked on, if any. */
  get current(): BackupRecord | null {
    return this.state.current ? this.state.backups[this.state.current] ?? null : null;
  }

  /** The id of the backup being worked on, or null. */
  get currentId(): string | null {
    return this.state.current;
  }

  /** The record of one backup, if this agent remembers it. */
  find(backupId: string): BackupRecord | undefined {
    return this.state.backups[backupId];
  }

  /** Every backup this agent remembers, oldest first. */
  all(): BackupRecord[] {
    return Object.values(this.state.backups);
  }

  /** Puts a backup's new record; saved when `persist`, or when the backup has ended. */
  put(rec: BackupRecord, persist: boolean): void {
    const id = rec.plan.backupId;
    // A backup ends once: from an active state into a terminal one (a done or failed backup undone later is not counted again).
    const before = this.state.backups[id]?.state;
    if (isTerminal(rec.state) && (before === undefined || isActive(before))) this.metrics.backupEnded(OUTCOMES[rec.state], this.now());
    this.state.backups[id] = rec;
    // A record that ends (an old failed backup undone, say) must not take the place of the current one.
    if (!isTerminal(rec.state)) this.state.current = id;
    else if (this.state.current === id) this.state.current = null;
    // Its work is over: nothing is left to signal.
    if (isTerminal(rec.state)) this.work.forget(id);
    if (persist || isTerminal(rec.state)) this.store.save(this.state);
    this.events.emit('update', rec);
  }
}
