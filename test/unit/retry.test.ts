/** The one retry: attempts, the retryable predicate, full-jitter backoff, abort. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, retry } from '../../shared/retry';

test('backoff: full jitter below a cap that doubles per attempt up to the maximum', () => {
  assert.is(backoffDelay(1, 100, 10_000, () => 0.999), 99);
  assert.is(backoffDelay(3, 100, 10_000, () => 0.5), 200);
  assert.is(backoffDelay(20, 100, 10_000, () => 0.5), 5000, 'capped at maxDelayMs');
  assert.is(backoffDelay(4, 100, 10_000, () => 0), 0);
});

test('retries until success and hands fn the attempt number', async () => {
  const seen: number[] = [];
  const delays: number[] = [];
  const r = await retry(async (attempt) => {
    seen.push(attempt);
    if (attempt < 3) throw new Error(`fail ${attempt}`);
    return 'ok';
  }, { attempts: 5, baseDelayMs: 4, random: () => 0.5, onRetry: (_e, _a, ms) => delays.push(ms) });
  assert.is(r, 'ok');
  assert.equal(seen, [1, 2, 3]);
  assert.equal(delays, [2, 4]);
});

test('the last error is thrown when the attempts are spent', async () => {
  let calls = 0;
  const err = await retry(async () => {
    throw new Error(`fail ${++calls}`);
  }, { attempts: 3, baseDelayMs: 1 }).catch((e: Error) => e);
  assert.is(calls, 3);
  assert.is((err as Error).message, 'fail 3');
});

test('a failure the predicate refuses is thrown at once', async () => {
  let calls = 0;
  const err = await retry(async () => {
    calls++;
    throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  }, { attempts: 5, baseDelayMs: 1, retryable: (e) => (e as { code?: string }).code !== 'ENOENT' }).catch((e: Error) => e);
  assert.is(calls, 1);
  assert.is((err as Error).message, 'no such file');
});

test('an abort during the wait ends it at once with the signal\'s reason', async () => {
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(new Error('operator abort')), 20);
  const err = await retry(async () => {
    throw new Error('transient');
  }, { attempts: 5, baseDelayMs: 60_000, random: () => 0.99, signal: ac.signal }).catch((e: Error) => e);
  assert.is((err as Error).message, 'operator abort');
  assert.ok(Date.now() - started < 5000, 'did not wait out the backoff');
  let calls = 0;
  await retry(async () => calls++, { signal: AbortSignal.abort() }).catch(() => undefined);
  assert.is(calls, 0, 'an aborted signal runs nothing');
});

test.run();
