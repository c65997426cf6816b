/** The one progress throttle: at most one update per interval, never holding back a new phase or the end. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isComplete, PROGRESS_INTERVAL_MS, throttle, throttleEach, type ProgressCounts } from '../../shared/progress';

/** A clock the test moves by hand. */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('completion: every file, or every byte where only bytes are counted; no counts is never complete', () => {
  assert.ok(isComplete({ phase: 'copy', filesDone: 3, filesTotal: 3, bytesDone: 10, bytesTotal: 20 }), 'a missing file counts no bytes');
  assert.not.ok(isComplete({ phase: 'copy', filesDone: 2, filesTotal: 3, bytesDone: 20, bytesTotal: 20 }));
  assert.ok(isComplete({ phase: 'archive', bytesDone: 20, bytesTotal: 20 }));
  assert.not.ok(isComplete({ phase: 'repair' }));
  assert.not.ok(isComplete({ phase: 'load', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 }));
});

test('one update per interval; the first, a new phase and the end go through at once', () => {
  const c = clock();
  const out: ProgressCounts[] = [];
  const report = throttle((u: ProgressCounts) => out.push(u), { now: c.now });
  const step = (phase: string, bytesDone: number) => report({ phase, bytesDone, bytesTotal: 100 });
  step('archive', 0);
  for (let b = 1; b < 50; b++) step('archive', b); // every chunk, all within the interval
  assert.equal(out.map((u) => u.bytesDone), [0]);
  c.advance(PROGRESS_INTERVAL_MS);
  step('archive', 60);
  step('archive', 70);
  assert.equal(out.map((u) => u.bytesDone), [0, 60]);
  step('archive', 100);
  assert.equal(out.map((u) => u.bytesDone), [0, 60, 100], 'the completed step at once');
  step('verify', 0);
  assert.equal(out.map((u) => u.phase), ['archive', 'archive', 'archive', 'verify'], 'a new phase at once');
});

test('flush forwards the update held back, once', () => {
  const c = clock();
  const out: number[] = [];
  const report = throttle((u: ProgressCounts) => out.push(u.filesDone!), { now: c.now, intervalMs: 50 });
  report({ phase: 'load', filesDone: 0, filesTotal: 9 });
  report({ phase: 'load', filesDone: 1, filesTotal: 9 });
  report({ phase: 'load', filesDone: 2, filesTotal: 9 });
  report.flush();
  report.flush();
  assert.equal(out, [0, 2]);
});

test('another urgency test for other shapes; throttleEach keeps one interval per key', () => {
  const c = clock();
  const out: string[] = [];
  const report = throttleEach(
    (u: { node: string; state: string }) => u.node,
    (u) => out.push(`${u.node}:${u.state}`),
    { now: c.now, urgent: (u, last) => u.state !== last.state },
  );
  report({ node: 'a', state: 'shipping' });
  report({ node: 'b', state: 'shipping' });
  report({ node: 'a', state: 'shipping' });
  report({ node: 'a', state: 'done' });
  report({ node: 'b', state: 'shipping' });
  assert.equal(out, ['a:shipping', 'b:shipping', 'a:done']);
  report.flush();
  assert.equal(out, ['a:shipping', 'b:shipping', 'a:done', 'b:shipping']);
});

test.run();
