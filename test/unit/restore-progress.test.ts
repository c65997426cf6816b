/** `tandem restore`'s and `drill`'s progress on stderr: plain lines unless it is a terminal, the backup's live lines on one. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { restoreFigures, restoreProgress } from '../../coordinator/cli/restore-progress';

/** A stand-in for stderr that keeps what is written. */
const stream = (isTTY: boolean) => {
  const out: string[] = [];
  return { out, s: { isTTY, columns: 120, write: (t: string) => (out.push(t), true) } };
};
const p = (bytesDone: number, filesDone = 1) => ({ role: 'cassandra', phase: 'fetch', bytesDone, bytesTotal: 40, filesDone, filesTotal: 4 });

test('not a terminal (or CI, NO_COLOR, TERM=dumb): plain phase and progress lines, no escape sequence', () => {
  for (const [isTTY, env] of [[false, {}], [true, { CI: 'true' }], [true, { NO_COLOR: '1' }], [true, { TERM: 'dumb' }]] as const) {
    const { out, s } = stream(isTTY);
    const r = restoreProgress(s, env);
    r.say('• restore phase fetch');
    r.phase?.('fetch', ['n1']);
    r.progress?.('n1', p(10));
    r.nodeEnded?.('n1', 'fetch', true);
    r.stop();
    assert.is(out[0], '• restore phase fetch\n');
    assert.match(out[1], /^ {2}n1: cassandra fetch 1\/4 files 10 B\/40 B/);
    assert.is(out.length, 2);
    assert.not.ok(out.join('').includes('\x1b'), JSON.stringify(env));
  }
});

test('a terminal: one live line per node with the restore phase, reset at each phase; plain lines once stopped', () => {
  const { out, s } = stream(true);
  const r = restoreProgress(s, {});
  r.say('• restore phase fetch'); // before any bar: printed at once
  r.phase?.('fetch', ['n1', 'node-two']);
  r.progress?.('n1', p(10));
  r.progress?.('node-two', p(20, 2));
  r.nodeEnded?.('n1', 'fetch', true);
  r.say('• restore phase schema');
  r.stop();
  const text = out.join('');
  assert.is(out[0], '• restore phase fetch\n');
  assert.match(text, /\x1b\[\?25l/, 'the cursor is hidden while the bars are drawn');
  assert.match(text, /\x1b\[\?25h/, 'and shown again when stopped');
  assert.match(text, /n1 {7}\[[^\]]+\] fetch done cassandra fetch 1\/4 10 B\/40 B/);
  assert.match(text, /node-two \[[^\]]+\] fetch cassandra fetch 2\/4 20 B\/40 B/);
  assert.match(text, /• restore phase schema\n/);
  const before = out.length;
  r.progress?.('n1', p(30, 3));
  assert.equal(out.slice(before).length, 1, 'after stop: a plain line');
  assert.match(out.at(-1)!, /^ {2}n1: cassandra fetch 3\/4 files 30 B\/40 B/);
});

test("a node's figures: the phase while it runs, done or failed after, every role's bytes summed", () => {
  const roles = new Map([['cassandra', p(10)], ['files', { ...p(5), role: 'files', bytesTotal: 60 }]]);
  assert.equal(restoreFigures({ phase: 'load', ok: null, roles }), { state: 'load', phases: 'cassandra fetch 1/4, files fetch 1/4', done: 15, total: 100 });
  assert.is(restoreFigures({ phase: 'verify', ok: false, roles: new Map() }).state, 'verify failed');
});

test.run();
