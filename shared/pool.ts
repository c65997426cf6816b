/**
 * The one worker pool: bounded concurrency over a list, for transfers, archives and checks that
 * must not all start at once (disks, NFS shares and destinations each take a few at a time).
 */
import { setMaxListeners } from 'node:events';

/**
 * Runs fn over items, at most `concurrency` at once (at least one); resolves with the results in
 * the items' order. The first error, or an abort of `signal`, stops taking new items and aborts
 * the signal handed to fn, so the items in flight can stop early; the promise rejects with that
 * first error once they have settled, so nothing is still writing when it does.
 */
export async function runPool<T, R = void>(
  items: readonly T[],
  concurrency: number,
  signal: AbortSignal | undefined,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const ac = new AbortController();
  // Each item in flight may listen (streams, requests); the signal lives no longer than the pool.
  setMaxListeners(0, ac.signal);
  const onAbort = () => ac.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        signal?.throwIfAborted();
        const i = next++;
        results[i] = await fn(items[i], i, ac.signal);
      } catch (error) {
        failure ??= { error };
        ac.abort(error);
      }
    }
  };
  const workers = Math.min(Math.max(1, Math.floor(concurrency) || 1), items.length);
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  return results;
}

/**
 * Runs fn over the items of an async iterable, at most `concurrency` at once, taking the next item
 * only when a slot is free: memory stays bounded whatever the iterable yields (a listing of
 * millions of entries). Errors and aborts as runPool: the first stops taking items, aborts the
 * signal handed to fn, and is thrown once the items in flight have settled.
 */
export async function forEachBounded<T>(
  items: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  signal: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  const onAbort = () => ac.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const limit = Math.max(1, Math.floor(concurrency) || 1);
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    ac.abort(error);
  };
  try {
    for await (const item of items) {
      if (failure) break;
      signal?.throwIfAborted();
      const p: Promise<void> = fn(item, ac.signal).catch(fail).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= limit) await Promise.race(running);
    }
  } catch (error) {
    fail(error);
  } finally {
    await Promise.all(running);
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
}
