/** The one worker pool: bounded concurrency, results in order, first error, abort. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { runPool } from '../../shared/pool';

test('never more than `concurrency` at once; results keep the items\' order', async () => {
  let running = 0;
  let most = 0;
  const out = await runPool([30, 5, 20, 1, 10, 2], 3, undefined, async (ms, i) => {
    most = Math.max(most, ++running);
    await sleep(ms);
    running--;
    return `${i}:${ms}`;
  });
  assert.is(most, 3);
  assert.equal(out, ['0:30', '1:5', '2:20', '3:1', '4:10', '5:2']);
});

test('an empty list resolves at once; a concurrency below one still makes progress', async () => {
  assert.equal(await runPool([], 4, undefined, async () => 1), []);
  assert.equal(await runPool([1, 2], 0, undefined, async (n) => n * 2), [2, 4]);
});

test('the first error stops new items, aborts those in flight and is thrown after they settle', async () => {
  const started: number[] = [];
  let inFlight = 0;
  const err = await runPool([0, 1, 2, 3, 4, 5], 2, undefined, async (n, _i, signal) => {
    started.push(n);
    inFlight++;
    try {
      if (n === 1) throw new Error('item 1 failed');
      await sleep(50, undefined, { signal }); // aborted by item 1's failure
    } finally {
      inFlight--;
    }
  }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.is((err as Error).message, 'item 1 failed', 'the first error, not the abort it caused');
  assert.is(inFlight, 0, 'nothing still running when the pool rejects');
  assert.equal(started, [0, 1]);
});

test('an abort of the caller\'s signal stops taking items and rejects with its reason', async () => {
  const ac = new AbortController();
  const seen: number[] = [];
  const err = await runPool([1, 2, 3, 4], 1, ac.signal, async (n) => {
    seen.push(n);
    if (n === 2) ac.abort(new Error('operator abort'));
  }).catch((e: Error) => e);
  assert.is((err as Error).message, 'operator abort');
  assert.equal(seen, [1, 2]);
  const early = await runPool([1], 1, AbortSignal.abort(new Error('already')), async () => assert.unreachable()).catch((e: Error) => e);
  assert.is((early as Error).message, 'already');
});

test.run();
