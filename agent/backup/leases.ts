/**
 * The leases of prepared backups, run on the monotonic clock: the wall clock may be set back or
 * forward by minutes (NTP, an operator) while a backup is prepared, and a lease read off it would
 * then never end, or end at once. A record's leaseExpiresAt (wall clock) is what the coordinator
 * is told; the deadline that counts is kept here.
 */
import { leaseExpired, type BackupRecord } from './state';

export class Leases {
  /** The lease's end on the monotonic clock (performance.now()), by backup id. */
  private readonly deadlines = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** `now` is the wall clock that leaseExpiresAt was computed with. */
  constructor(private readonly now: () => number) {}

  /** Arms the lease of a prepared record; `onExpiry` runs once it ends without being cleared. */
  arm(rec: BackupRecord, onExpiry: () => void): void {
    const backupId = rec.plan.backupId;
    this.clear(backupId);
    const remaining = Math.max(0, rec.leaseExpiresAt - this.now());
    this.deadlines.set(backupId, performance.now() + remaining);
    const timer = setTimeout(() => {
      this.timers.delete(backupId);
      onExpiry();
    }, remaining + 10);
    timer.unref();
    this.timers.set(backupId, timer);
  }

  /** True when the prepared backup's lease has run out: on the monotonic clock while this process armed it. */
  over(rec: BackupRecord): boolean {
    const deadline = this.deadlines.get(rec.plan.backupId);
    return deadline === undefined ? leaseExpired(rec, this.now()) : rec.state === 'prepared' && performance.now() >= deadline;
  }

  clear(backupId: string): void {
    clearTimeout(this.timers.get(backupId));
    this.timers.delete(backupId);
    this.deadlines.delete(backupId);
  }

  clearAll(): void {
    for (const id of [...this.timers.keys()]) this.clear(id);
  }
}
