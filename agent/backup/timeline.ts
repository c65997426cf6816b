/**
 * Each backup's timeline on this agent: the spans of its controller (Prepare, Commit, each role's
 * cut and ship) and those its roles report (a table's archive, a snapshot, a copy), by this
 * agent's clock. Kept in memory from Prepare to part.json: a backup whose agent restarts is undone
 * anyway. A timeline only describes a backup: a span that does not fit (a clock set back, past the
 * bound) is dropped with a warning, never allowed to fail it.
 */
import { errorMessage, firstIssue } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import { TIMELINE_MAX_SPANS, timelineSpanSchema, type PartRole, type TimelineSpan } from '../../shared/parts';

/** A span as a role reports it: the controller adds the role's name. */
export type RoleSpan = Omit<TimelineSpan, 'role'>;

/** Spans a role may add; the rest of the bound is kept for the controller's own (and the coordinator's finish). */
const ROLE_SPANS_MAX = TIMELINE_MAX_SPANS - 64;

/** The timelines of the backups this agent is working on, by backup id. */
export class Timelines {
  private readonly byId = new Map<string, TimelineSpan[]>();
  private readonly warned = new Set<string>();

  constructor(private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /** Adds a span to a backup's timeline; one that is not valid or does not fit is dropped, once with a warning. */
  add(backupId: string, span: TimelineSpan): void {
    const list = this.byId.get(backupId) ?? [];
    const full = span.role && span.phase !== 'ship' && span.phase !== 'cut' ? list.length >= ROLE_SPANS_MAX : list.length >= TIMELINE_MAX_SPANS - 1;
    // An instant of a clock set back between start and end would refuse the whole part.json.
    const r = timelineSpanSchema.safeParse({ ...span, endedAt: Math.max(span.endedAt, span.startedAt) });
    if (full || !r.success) {
      if (!this.warned.has(backupId)) this.log.warn({ backupId, span: { ...span }, why: full ? 'timeline full' : firstIssue(r.error!) }, 'a span of the backup timeline was dropped');
      this.warned.add(backupId);
      return;
    }
    list.push(r.data);
    this.byId.set(backupId, list);
  }

  /** Runs `work`, adding a span from its start to its end when it succeeds; `measure` gives its counts. */
  async timed<T>(
    backupId: string,
    span: { phase: TimelineSpan['phase']; role?: PartRole },
    work: () => Promise<T>,
    measure: (result: T) => Pick<TimelineSpan, 'bytesIn' | 'bytesOut' | 'files'> = () => ({}),
  ): Promise<T> {
    const startedAt = this.now();
    const result = await work();
    let counts = {};
    try {
      counts = measure(result);
    } catch (err) {
      this.log.warn({ backupId, err: errorMessage(err) }, 'cannot measure a span of the backup timeline');
    }
    this.add(backupId, { ...span, ...counts, startedAt, endedAt: this.now() });
    return result;
  }

  /** The backup's timeline so far, in the order its spans ended. */
  spans(backupId: string): TimelineSpan[] {
    return [...(this.byId.get(backupId) ?? [])];
  }

  /** Forgets a backup's timeline (written, or the backup undone). */
  forget(backupId: string): void {
    this.byId.delete(backupId);
    this.warned.delete(backupId);
  }
}

/** What a role's ship stored, for its span: its files and the attachments its listings hold. */
export function shipCounts(r: { files: { size: number }[]; listed?: { files: number; bytes: number } }): Pick<TimelineSpan, 'files' | 'bytesOut'> {
  return { files: r.files.length + (r.listed?.files ?? 0), bytesOut: r.files.reduce((n, f) => n + f.size, 0) + (r.listed?.bytes ?? 0) };
}
