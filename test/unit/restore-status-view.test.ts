/** `tandem status`'s view of a restore or drill: from <stateDir>/restore.json and the agents' GetRestoreStatus. */
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RestorePhase, type RestoreStatus } from '../../shared/generated/tandem/v2/agent';
import { buildStatusView } from '../../coordinator/backup/status';
import { statusText } from '../../coordinator/cli/status';
import { resumeArgs } from '../../coordinator/cli/restore-run';
import { readRestoreRecord, RESTORE_RECORD_FILE, RESTORE_RECORD_FORMAT, startRestoreRecord, type RestoreRecord } from '../../coordinator/restore/record';
import { buildRestoreView } from '../../coordinator/restore/status';
import { scratchDirSync } from '../helpers/scratch';

const T0 = 1_750_000_000_000;
const record = (over: Partial<RestoreRecord> = {}): RestoreRecord => ({
  format: RESTORE_RECORD_FORMAT,
  restoreId: 'restore-now',
  backupId: 'tandem-20250615-1200',
  kind: 'restore',
  pid: 4242,
  host: 'coord',
  startedMs: T0,
  phase: 'load',
  phases: { fetch: T0 + 1000, schema: T0 + 3000, load: T0 + 4000 },
  resume: ['restore', 'tandem-20250615-1200', '--config', '/etc/tandem/my fleet.yaml', '--yes', '--restore-id', 'restore-now'],
  ended: null,
  ...over,
});
const loading = (bytesDone: number, over: Partial<RestoreStatus> = {}): RestoreStatus => ({
  restoreId: 'restore-now', backupId: 'tandem-20250615-1200', phase: RestorePhase.LOAD, running: true, ok: false, startedUnixMs: T0 + 4100, endedUnixMs: 0, error: '',
  progress: [{ role: 'cassandra', phase: 'load', bytesDone, bytesTotal: 8192, filesDone: 1, filesTotal: 4 }],
  ...over,
});
const idle = { lock: null, entries: [], answers: [] };

test('a running restore: its phase and timeline, one line per node, rate and time left from the phase start', () => {
  const restore = buildRestoreView({
    read: { record: record(), interrupted: false },
    answers: [
      { node: 'n1', status: loading(4096) },
      { node: 'n2', status: loading(0, { running: false, ok: true, phase: RestorePhase.SCHEMA, progress: [], endedUnixMs: T0 + 3900 }) },
      { node: 'n3', error: 'n3: getRestoreStatus failed: DEADLINE_EXCEEDED', reachable: false },
    ],
    now: T0 + 8000,
  })!;
  assert.equal([restore.state, restore.phase, restore.elapsedMs], ['running', 'load', 8000]);
  assert.equal(restore.nodes.map((n) => [n.node, n.reachable, n.phase, n.running, n.ok, n.bytesDone, n.bytesTotal]), [
    ['n1', true, 'load', true, null, 4096, 8192],
    ['n2', true, 'schema', false, true, 0, 0],
    ['n3', false, null, false, null, 0, 0],
  ]);
  assert.is(restore.nodes[0].rateBytesPerSec, 1024, "4 KiB in the 4 s since the coordinator started load (not the agent's clock)");
  assert.is(restore.nodes[0].etaSeconds, 4);
  const text = statusText(buildStatusView({ ...idle, now: T0 + 8000, restore }));
  assert.match(text, /^no backup running\nlast: no backup has ended yet\nrestore restore-now of backup tandem-20250615-1200 running: phase load, pid 4242 on coord, started 2025-06-15T15:06:40\.000Z \(8\.0 s ago\)/);
  assert.match(text, /\n {2}timeline: fetch \+1\.0 s, schema \+3\.0 s, load \+4\.0 s\n/);
  assert.match(text, /\n {2}n1: load \(cassandra load 1\/4 files 4\.0 KiB\/8\.0 KiB, 1\.0 KiB\/s, 4 s left\)/);
  assert.match(text, /\n {2}n2: schema done\n/);
  assert.match(text, /\n {2}n3: unreachable \(n3: getRestoreStatus failed: DEADLINE_EXCEEDED\)$/);
});

test('an interrupted drill: where each node stopped and the command that resumes it, quoted for a shell', () => {
  const restore = buildRestoreView({
    read: { record: record({ kind: 'drill', restoreId: 'drill-now' }), interrupted: true },
    answers: [{ node: 'n1', status: loading(8192, { running: false, ok: false, endedUnixMs: T0 + 6000, error: 'cancelled' }) }, { node: 'n2', error: 'this agent has run no phase of restore drill-now since it started', reachable: true }],
    now: T0 + 60_000,
  })!;
  assert.is(restore.state, 'interrupted');
  assert.is(restore.resume, "tandem restore tandem-20250615-1200 --config '/etc/tandem/my fleet.yaml' --yes --restore-id restore-now");
  assert.equal(restore.nodes.map((n) => [n.node, n.phase, n.ok, n.etaSeconds]), [['n1', 'load', false, null], ['n2', null, null, null]]);
  const text = statusText(buildStatusView({ ...idle, now: T0 + 60_000, restore }));
  assert.match(text, /drill drill-now of backup tandem-20250615-1200 interrupted in phase load: pid 4242 on coord is gone; resume it with: tandem restore /);
  assert.match(text, /n1: load failed \(cassandra load 1\/4 files 8\.0 KiB\/8\.0 KiB, 4\.0 KiB\/s\): cancelled/);
  assert.match(text, /n2: no status \(this agent has run no phase/);
});

test('a restore that ended: the last one, no nodes asked; a failed one names how to resume it; none recorded: no restore line', () => {
  const done = buildRestoreView({ read: { record: record({ phase: 'cleanup', ended: { atMs: T0 + 12_300, ok: true, reason: '' } }), interrupted: false }, answers: [], now: T0 + 99_000 })!;
  assert.equal([done.state, done.elapsedMs, done.nodes], ['restored', 12_300, []]);
  assert.match(statusText(buildStatusView({ ...idle, now: T0, restore: done })), /\nlast restore: restore restore-now of backup tandem-20250615-1200 restored and verified in 12\.3 s, ended /);
  const failed = buildRestoreView({ read: { record: record({ ended: { atMs: T0 + 5000, ok: false, reason: 'stopped in phase load: load on n2: UNAVAILABLE' } }), interrupted: false }, answers: [], now: T0 + 99_000 })!;
  assert.is(failed.state, 'failed');
  assert.match(statusText(buildStatusView({ ...idle, now: T0, restore: failed })), /failed after 5\.0 s, ended [^:]+:[^:]+:[^:]+: stopped in phase load: load on n2: UNAVAILABLE; resume it with: tandem restore /);
  const none = buildStatusView({ ...idle, now: T0 });
  assert.is(none.restore, null);
  assert.is(statusText(none), 'no backup running\nlast: no backup has ended yet');
});

test('the record: written at each phase and at the end, read back; a dead pid makes it interrupted; a damaged one is a warning', () => {
  const dir = scratchDirSync('restore-record');
  const warnings: string[] = [];
  let t = T0;
  const run = startRestoreRecord(dir, { restoreId: 'restore-rec', backupId: 'tandem-b', kind: 'restore', resume: ['restore', 'tandem-b', '--restore-id', 'restore-rec'] }, (w) => warnings.push(w), () => (t += 1000));
  run.phase('fetch');
  run.phase('fetch');
  run.phase('schema');
  const read = readRestoreRecord(dir, (w) => warnings.push(w))!;
  assert.equal([read.interrupted, read.record.phase, read.record.phases, read.record.pid, read.record.host], [false, 'schema', { fetch: T0 + 2000, schema: T0 + 3000 }, process.pid, hostname()]);
  run.end(true, '');
  assert.equal(readRestoreRecord(dir, () => {})!.record.ended, { atMs: T0 + 4000, ok: true, reason: '' });
  // A pid that cannot be running: the kernel's pid_max is below 2^22.
  const file = join(dir, RESTORE_RECORD_FILE);
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ended: null, pid: 2 ** 22 + 1 }));
  assert.ok(readRestoreRecord(dir, () => {})!.interrupted);
  startRestoreRecord(dir, { restoreId: 'drill-next', backupId: 'tandem-b', kind: 'drill', resume: [] }, (w) => warnings.push(w));
  assert.match(warnings.join('\n'), /restore restore-rec of backup tandem-b was interrupted; tandem status shows this run instead; resume it with: tandem restore tandem-b --restore-id restore-rec/);
  writeFileSync(file, '{"format":"tandem.restore-run/v0"}');
  assert.is(readRestoreRecord(dir, (w) => warnings.push(w)), null);
  assert.match(warnings.at(-1)!, /ignoring .*restore\.json: not a restore record of this tandem/);
});

test('the resume arguments: the resolved backup id, the same options, --restore-id set once', () => {
  const options = { config: { type: 'string', short: 'c' }, yes: { type: 'boolean', short: 'y' }, 'restore-id': { type: 'string' }, keep: { type: 'boolean' } } as const;
  assert.equal(resumeArgs('drill', ['latest', '-c', 'f.yaml', '--keep'], options, 'tandem-b', 'drill-1'), ['drill', 'tandem-b', '-c', 'f.yaml', '--keep', '--restore-id', 'drill-1']);
  assert.equal(resumeArgs('restore', ['--restore-id', 'r-old', 'tandem-b', '-y'], options, 'tandem-b', 'r-old'), ['restore', 'tandem-b', '-y', '--restore-id', 'r-old']);
  assert.equal(resumeArgs('restore', ['tandem-b', '--restore-id=r-old'], options, 'tandem-b', 'r-old'), ['restore', 'tandem-b', '--restore-id', 'r-old']);
});

test.run();
