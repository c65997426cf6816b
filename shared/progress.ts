/**
 * The one progress throttle. Roles may report on every chunk they move; each report that crosses
 * a boundary (agent state and its Watch stream, the Restore stream, a line for a person) is
 * thinned to one per interval, without ever holding back a new phase or the end of a step.
 */

/** Counts of a step in progress, as roles report them and the protocol carries them. */
export interface ProgressCounts {
  phase: string;
  bytesDone?: number;
  bytesTotal?: number;
  filesDone?: number;
  filesTotal?: number;
}

/** The default interval between two forwarded progress updates: 1000 ms. */
export const PROGRESS_INTERVAL_MS = 1000;

/** True when an update says its step is done: every file, or every byte where only bytes are counted. */
export function isComplete(u: Partial<ProgressCounts>): boolean {
  if (u.filesTotal) return (u.filesDone ?? 0) >= u.filesTotal;
  if (u.bytesTotal) return (u.bytesDone ?? 0) >= u.bytesTotal;
  return false;
}

/** The default of ThrottleOptions.urgent: a new phase, or a completed step. */
export function isMilestone(update: Partial<ProgressCounts>, lastSent: Partial<ProgressCounts>): boolean {
  return update.phase !== lastSent.phase || isComplete(update);
}

/** Options of throttle() and throttleEach(). */
export interface ThrottleOptions<T> {
  /** Least time between two forwarded updates, ms; default PROGRESS_INTERVAL_MS. */
  intervalMs?: number;
  /** Whether an update goes through at once whatever the interval; default isMilestone (for progress counts). */
  urgent?: (update: T, lastSent: T) => boolean;
  /** The clock, ms; default Date.now (a seam for tests). */
  now?: () => number;
}

/** A throttled reporter: call it with every update. */
export interface Throttled<T> {
  (update: T): void;
  /** Forwards the last update held back, if any. */
  flush(): void;
}

/**
 * Forwards updates to fn at most once per interval: the first update, and any the `urgent` test
 * passes, at once; the others only when the interval since the last forwarded one has passed.
 */
export function throttle<T>(fn: (update: T) => void, options: ThrottleOptions<T> = {}): Throttled<T> {
  const intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
  const urgent = options.urgent ?? ((u: T, last: T) => isMilestone(u as Partial<ProgressCounts>, last as Partial<ProgressCounts>));
  const now = options.now ?? Date.now;
  let sent: { update: T; at: number } | undefined;
  let held: { update: T } | undefined;
  const forward = (update: T) => {
    sent = { update, at: now() };
    held = undefined;
    fn(update);
  };
  const reporter = (update: T) => {
    if (!sent || now() - sent.at >= intervalMs || urgent(update, sent.update)) forward(update);
    else held = { update };
  };
  return Object.assign(reporter, { flush: () => held && forward(held.update) });
}

/** throttle() per key (a role, a node and its role): each key keeps its own interval and last update. */
export function throttleEach<T>(keyOf: (update: T) => string, fn: (update: T) => void, options: ThrottleOptions<T> = {}): Throttled<T> {
  const byKey = new Map<string, Throttled<T>>();
  const reporter = (update: T) => {
    const key = keyOf(update);
    let t = byKey.get(key);
    if (!t) byKey.set(key, (t = throttle(fn, options)));
    t(update);
  };
  return Object.assign(reporter, { flush: () => byKey.forEach((t) => t.flush()) });
}
