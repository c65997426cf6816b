/** `tandem status`'s view, built from a lock, journal entries and the agents' answers. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentState, type BackupStatus } from '../../shared/generated/tandem/v2/agent';
import { JOURNAL_FORMAT, type JournalEntry, type JournalStep } from '../../coordinator/backup/journal';
import { buildStatusView } from '../../coordinator/backup/status';
import { statusText } from '../../coordinator/cli/status';
import { backupOptionsSchema } from '../../shared/wire/backup-options';

const T0 = 1_750_000_000_000;
const entry = (backupId: string, startedMs: number, steps: [JournalStep, number][], reason = ''): JournalEntry => ({
  format: JOURNAL_FORMAT,
  backupId,
  step: steps.at(-1)![0],
  startedMs,
  updatedAt: new Date(steps.at(-1)![1]).toISOString(),
  pid: 4242,
  host: 'coord',
  options: backupOptionsSchema.parse({}),
  parent: null,
  reason,
  steps: Object.fromEntries(steps),
});
const holder = (backupId: string) => ({ pid: 999, backupId, startedAt: new Date(T0).toISOString(), host: 'coord' });
const shipping = (bytesDone: number, bytesTotal: number): BackupStatus => ({
  backupId: 'run-now', state: AgentState.SHIPPING, error: '', updatedUnixMs: 0, leaseExpiresUnixMs: 0, committedUnixMs: T0 + 900, part: undefined, files: 0, bytes: 0,
  progress: [{ role: 'rehearsal', phase: 'ship', bytesDone, bytesTotal, filesDone: 0, filesTotal: 1 }],
});

const ENTRIES = [
  entry('run-old', T0 - 90_000, [['preparing', T0 - 90_000], ['committing', T0 - 89_000], ['shipping', T0 - 88_000], ['complete', T0 - 80_000]]),
  entry('run-aborted', T0 - 60_000, [['preparing', T0 - 60_000], ['aborted', T0 - 59_500]], 'n2 voted no'),
  entry('run-dead', T0 - 30_000, [['preparing', T0 - 30_000], ['committing', T0 - 29_000]]),
  entry('run-now', T0, [['preparing', T0], ['committing', T0 + 500], ['shipping', T0 + 1000]]),
];

test('a running backup: its step and timeline, one entry per node, rate and time left from the shipping step', () => {
  const v = buildStatusView({
    lock: { holder: holder('run-now'), stale: false },
    entries: ENTRIES,
    answers: [{ node: 'n1', status: shipping(4096, 8192) }, { node: 'n2', error: 'n2: getStatus failed: UNAVAILABLE: no connection', reachable: false }],
    now: T0 + 5000,
  });
  assert.equal(v.running && { id: v.running.backupId, step: v.running.step, elapsed: v.running.elapsedMs, steps: Object.keys(v.running.steps) }, { id: 'run-now', step: 'shipping', elapsed: 5000, steps: ['preparing', 'committing', 'shipping'] });
  assert.equal(v.nodes.map((n) => [n.node, n.reachable, n.state, n.bytesDone, n.bytesTotal]), [['n1', true, 'shipping', 4096, 8192], ['n2', false, null, 0, 0]]);
  assert.is(v.nodes[0].rateBytesPerSec, 1024, '4 KiB in the 4 s since shipping');
  assert.is(v.nodes[0].etaSeconds, 4);
  assert.equal(v.unfinished.map((u) => [u.backupId, u.step]), [['run-dead', 'committing']], 'the running one is not unfinished');
  assert.equal(v.last && [v.last.backupId, v.last.outcome, v.last.durationMs, v.last.reason], ['run-aborted', 'aborted', 500, 'n2 voted no']);
  const text = statusText(v);
  assert.match(text, /backup run-now running: step shipping/);
  assert.match(text, /timeline: preparing \+0\.0 s, committing \+0\.5 s, shipping \+1\.0 s/);
  assert.match(text, /n1: shipping \(rehearsal ship 0\/1 files 4\.0 KiB\/8\.0 KiB, 1\.0 KiB\/s, 4 s left\)/);
  assert.match(text, /n2: unreachable \(n2: getStatus failed: UNAVAILABLE/);
  assert.match(text, /unfinished: backup run-dead stopped at step committing/);
});

test('nothing running: no nodes, the last finished run; a stale lock is shown as such', () => {
  const done = ENTRIES.slice(0, 1);
  const idle = buildStatusView({ lock: null, entries: done, answers: [], now: T0 });
  assert.equal([idle.running, idle.staleLock, idle.nodes, idle.unfinished], [null, null, [], []]);
  assert.equal(idle.last && [idle.last.backupId, idle.last.outcome, idle.last.durationMs], ['run-old', 'complete', 10_000]);
  assert.match(statusText(idle), /^no backup running\nlast: backup run-old complete in 10\.0 s/);
  const stale = buildStatusView({ lock: { holder: holder('run-dead'), stale: true }, entries: ENTRIES.slice(0, 3), answers: [], now: T0 });
  assert.is(stale.running, null);
  assert.is(stale.staleLock?.backupId, 'run-dead');
  assert.equal(stale.unfinished.map((u) => u.backupId), ['run-dead'], 'a run whose coordinator is gone is for recover');
  assert.match(statusText(stale), /stale lock: backup run-dead, pid 999 on coord is gone/);
});

test('an empty journal; tandem recover holding the lock', () => {
  const v = buildStatusView({ lock: { holder: holder('recover'), stale: false }, entries: [], answers: [], now: T0 + 1000 });
  assert.equal([v.running?.backupId, v.running?.step, v.last], ['recover', null, null]);
  assert.match(statusText(v), /^tandem recover running \(pid 999 on coord/);
  assert.match(statusText(v), /last: no backup has ended yet/);
});

test.run();
