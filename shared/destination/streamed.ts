/**
 * Sending a stream again. A destination cannot replay a stream it has half read: when an upload
 * is cut short on its way it throws TransferInterruptedError, leaving nothing under the final
 * name, and the code that made the stream (an archive being built, an attachment being read)
 * makes it again and puts it again. Other failures are not retried here.
 */
import { TransferInterruptedError } from '../errors';
import { retry } from '../retry';

/** Options of retryStreamedPut. */
export interface StreamedPutRetry {
  /** Attempts in all, the first one included; default 3. */
  attempts?: number;
  /** Cap of the wait before the first retry, ms, doubled after; default 2000. */
  baseDelayMs?: number;
  /** Aborting stops the retries. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log the interruption; attempt counts from 1. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `attempt` (make the stream, put it) until it succeeds, or fails other than by an interrupted upload, or the attempts are spent. */
export function retryStreamedPut<T>(attempt: (n: number) => Promise<T>, opts: StreamedPutRetry = {}): Promise<T> {
  return retry(attempt, { attempts: opts.attempts ?? 3, baseDelayMs: opts.baseDelayMs ?? 2000, retryable: (e) => e instanceof TransferInterruptedError, signal: opts.signal, onRetry: opts.onRetry });
}

/**
 * Waits for a stream's producer and its upload, both to their end (so no producer is left
 * running). When either failed, throws the upload's TransferInterruptedError if there is one,
 * since the producer's error is then only what it saw of the broken stream; else the first error.
 */
export async function producedAndPut<A, B>(producer: Promise<A>, put: Promise<B>): Promise<[A, B]> {
  let first: { err: unknown } | null = null;
  const note = (err: unknown) => {
    first ??= { err };
    throw err;
  };
  const [a, b] = await Promise.allSettled([producer.catch(note), put.catch(note)]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return [a.value, b.value];
  if (b.status === 'rejected' && b.reason instanceof TransferInterruptedError) throw b.reason;
  throw first!.err;
}
