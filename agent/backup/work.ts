/**
 * The work an agent runs for its backups, by backup id: the signal of each backup's running work
 * (its checks, set-up, cut and ship), and the background work that goes on after Commit. Keyed by
 * id, so that an Abort stops and waits for its own backup's work and never another's.
 */
export class BackupWork {
  /** The signal of each backup's running work (prepare, commit, ship), by id. */
  private readonly running = new Map<string, AbortController>();
  /** Background work after Commit (shipping, or cleanup after a failed commit), by id. */
  private readonly background = new Map<string, Promise<void>>();

  /** The signal of this backup's running work; a new one once the last was aborted. */
  signal(backupId: string): AbortSignal {
    let c = this.running.get(backupId);
    if (!c || c.signal.aborted) {
      c = new AbortController();
      this.running.set(backupId, c);
    }
    return c.signal;
  }

  /** Aborts this backup's running work, if it has any. */
  stop(backupId: string): void {
    this.running.get(backupId)?.abort();
  }

  /** Forgets this backup's signal: its work is over (or never started), nothing is left to signal. */
  forget(backupId: string): void {
    this.running.delete(backupId);
  }

  /** Aborts the running work of every backup (the agent stops). */
  stopAll(): void {
    for (const c of this.running.values()) c.abort();
  }

  /** Keeps a backup's background work, so that its Abort can wait for it; forgotten once settled. */
  keep(backupId: string, work: Promise<void>): void {
    const kept = work.finally(() => {
      if (this.background.get(backupId) === kept) this.background.delete(backupId);
    });
    this.background.set(backupId, kept);
  }

  /** The backup's background work while it runs, else undefined. */
  pending(backupId: string): Promise<void> | undefined {
    return this.background.get(backupId);
  }
}
