/** `tandem backup`'s progress on stderr: plain lines unless it is a terminal, live lines (cli-progress) on one. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentState, type BackupStatus } from '../../shared/generated/tandem/v2/agent';
import { backupProgress, liveLine, wantsLiveProgress } from '../../coordinator/cli/progress';

const status = (state: AgentState, bytesDone = 0, bytesTotal = 0): BackupStatus => ({
  backupId: 'b', state, error: '', updatedUnixMs: 0, leaseExpiresUnixMs: 0, committedUnixMs: 0, part: undefined, files: 0, bytes: 0,
  progress: bytesTotal ? [{ role: 'rehearsal', phase: 'ship', bytesDone, bytesTotal, filesDone: 1, filesTotal: 4 }] : [],
});

/** A stand-in for stderr that keeps what is written. */
const stream = (isTTY: boolean) => {
  const out: string[] = [];
  return { out, s: { isTTY, columns: 120, write: (t: string) => (out.push(t), true) } };
};

test('live lines only on a terminal, outside CI, without NO_COLOR, not TERM=dumb', () => {
  assert.not.ok(wantsLiveProgress({ isTTY: false, write() {} }, {}), 'a pipe');
  assert.not.ok(wantsLiveProgress({ write() {} }, {}), 'a stream that does not say');
  assert.ok(wantsLiveProgress({ isTTY: true, write() {} }, {}));
  assert.not.ok(wantsLiveProgress({ isTTY: true, write() {} }, { CI: 'true' }));
  assert.not.ok(wantsLiveProgress({ isTTY: true, write() {} }, { NO_COLOR: '1' }));
  assert.not.ok(wantsLiveProgress({ isTTY: true, write() {} }, { TERM: 'dumb' }));
});

test('not a terminal: the plain lines, unchanged, and no escape sequence', () => {
  const { out, s } = stream(false);
  const r = backupProgress(s, {});
  r.phase('commit on 2 nodes');
  r.node('n1', status(AgentState.PREPARED));
  r.node('n1', status(AgentState.SHIPPING, 10, 40));
  r.stop();
  assert.is(out[0], '• commit on 2 nodes\n');
  assert.is(out[1], '  n1: prepared\n');
  assert.match(out[2], /^ {2}n1: shipping \(rehearsal ship 1\/4 files 10 B\/40 B [0-9.]+ [KMG]?i?B\/s\)\n$/);
  assert.is(out.length, 3);
  assert.not.ok(out.join('').includes('\x1b'), 'no terminal control in plain output');
});

test('a terminal: one live line per node, phases above, plain lines once stopped', () => {
  const { out, s } = stream(true);
  const r = backupProgress(s, {});
  r.phase('prepare on 2 nodes'); // before any bar: printed at once
  r.node('n1', status(AgentState.SHIPPING, 10, 40));
  r.node('node-two', status(AgentState.SHIPPING, 20, 40));
  r.phase('writing the manifest');
  r.stop();
  const text = out.join('');
  assert.is(out[0], '• prepare on 2 nodes\n');
  assert.match(text, /\x1b\[\?25l/, 'the cursor is hidden while the bars are drawn');
  assert.match(text, /\x1b\[\?25h/, 'and shown again when stopped');
  assert.match(text, /n1 {7}\[[^\]]+\] shipping rehearsal ship 1\/4 10 B\/40 B/);
  assert.match(text, /node-two \[[^\]]+\] shipping rehearsal ship 1\/4 20 B\/40 B/);
  assert.match(text, /• writing the manifest\n/, 'a phase logged above the bars is printed by the time they stop');
  const before = out.length;
  r.node('n1', status(AgentState.DONE));
  assert.equal(out.slice(before), ['  n1: done\n'], 'after stop (SIGINT, the end): plain lines');
});

test('a live line: bytes, rate and time left from when the node was first seen', () => {
  const l = liveLine('n1', status(AgentState.SHIPPING, 1024, 4096), 0, 1000);
  assert.equal([l.done, l.total, l.bytes, l.rate, l.left], [1024, 4096, '1.0 KiB/4.0 KiB', '1.0 KiB/s', 'ETA 3 s']);
  assert.equal([liveLine('n1', status(AgentState.PREPARED), 0, 1000).rate, liveLine('n1', status(AgentState.PREPARED), 0, 1000).left], ['', '']);
});

test.run();
