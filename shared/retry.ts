/**
 * The one retry: exponential backoff with full jitter (each wait is random between zero and the
 * cap, so agents that failed together do not all come back at the same instant), a bounded
 * number of attempts, and the caller's abort signal honoured during the waits.
 */

/** Options of retry(). */
export interface RetryOptions {
  /** Attempts in all, the first one included; default 3. */
  attempts?: number;
  /** Cap of the wait before the first retry, ms, doubled for each retry after; default 1000. */
  baseDelayMs?: number;
  /** Longest wait between two attempts, ms; default 30000. */
  maxDelayMs?: number;
  /** Whether a failure is worth another attempt; default: every failure. */
  retryable?: (err: unknown, attempt: number) => boolean;
  /** Aborting stops the retries: the wait ends and the signal's reason is thrown. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log the failure; attempt counts from 1. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Uniform random numbers in [0, 1); default Math.random (a seam for tests). */
  random?: () => number;
}

/** The wait after failed attempt `attempt` (from 1): uniform in [0, min(max, base · 2^(attempt-1))). */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * cap);
}

/** Runs fn until it succeeds, a failure is not retryable, or the attempts are spent (then its last error is thrown). */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const { signal } = options;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      // The caller's abort is not a failure to retry or to explain.
      if (signal?.aborted) throw signal.reason ?? err;
      if (attempt >= attempts || !(options.retryable?.(err, attempt) ?? true)) throw err;
      const delayMs = backoffDelay(attempt, options.baseDelayMs ?? 1000, options.maxDelayMs ?? 30_000, options.random);
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, signal);
    }
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
