/** `tandem status` from another terminal while the real CLI runs a restore or a drill on real agents (the rehearsal role, slowed). */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StatusView } from '../../coordinator/backup/status';
import type { RestoreRecord } from '../../coordinator/restore/record';
import { CLI_MAIN, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';

const ID = 'restore-status-000';
let f: TestFleet;
test.before(async () => {
  f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 100, restoreMs: 6000 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 100, restoreMs: 6000 } } }]);
  await startFleet(f);
  const b = await runCli(['backup', '--config', f.fleetFile, '--id', ID]);
  assert.is(b.code, 0, b.stderr);
});
test.after(async () => {
  await removeFleet(f);
});

async function status(): Promise<StatusView> {
  const r = await runCli(['status', '--config', f.fleetFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusView;
}

/** Polls status until `until` holds (15 s at most). */
async function statusUntil(until: (v: StatusView) => boolean, what: string): Promise<StatusView> {
  let v: StatusView | undefined;
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(200)) {
    v = await status();
    if (until(v)) return v;
  }
  assert.unreachable(`status never showed ${what}: ${JSON.stringify(v?.restore)}`);
  throw new Error('unreachable');
}

test('status shows the running restore on every node, then the last restore restored; --json unchanged, plain lines off a terminal', async () => {
  const restore = runCli(['restore', ID, '--config', f.fleetFile, '--yes', '--json']);
  // The rehearsal role reports its first progress a quarter of restoreMs into each phase.
  const seen = await statusUntil((v) => v.restore?.state === 'running' && v.restore.phase === 'fetch' && v.restore.nodes.every((n) => n.running && n.roles.length), 'the restore fetching on every node');
  const r = seen.restore!;
  assert.equal([r.kind, r.backupId], ['restore', ID]);
  assert.match(r.restoreId, /^restore-/);
  assert.ok(r.pid > 0);
  assert.equal(Object.keys(r.phases), ['fetch']);
  assert.equal(r.nodes.map((n) => [n.node, n.reachable, n.phase, n.roles.map((p) => p.role)]), [['n1', true, 'fetch', ['rehearsal']], ['n2', true, 'fetch', ['rehearsal']]]);
  for (const n of r.nodes) assert.ok(n.bytesTotal === 40 && n.bytesDone >= 10 && n.rateBytesPerSec! > 0, JSON.stringify(n));
  assert.match(r.resume, new RegExp(`^tandem restore ${ID} --config \\S+ --yes --json --restore-id ${r.restoreId}$`));
  const text = await runCli(['status', '--config', f.fleetFile]);
  assert.match(text.stdout, new RegExp(`\\nrestore ${r.restoreId} of backup ${ID} running: phase fetch, pid ${r.pid} `));
  assert.match(text.stdout, /\n {2}n1: fetch \(rehearsal fetch \d\/4 files /);

  const done = await restore;
  assert.is(done.code, 0, done.stderr);
  assert.is(JSON.parse(done.stdout).restoreId, r.restoreId, '--json: the outcome, as before');
  assert.match(done.stderr, /\n {2}n1: rehearsal fetch \d\/4 files /, 'plain progress lines when stderr is not a terminal');
  assert.not.ok(done.stderr.includes('\x1b'), 'no terminal control off a terminal');
  const after = await status();
  assert.equal([after.restore?.restoreId, after.restore?.state, after.restore?.nodes], [r.restoreId, 'restored', []]);
  assert.ok(after.restore!.elapsedMs >= 5 * 2000, `${after.restore!.elapsedMs} ms`);
  assert.match((await runCli(['status', '--config', f.fleetFile])).stdout, new RegExp(`\\nlast restore: restore ${r.restoreId} of backup ${ID} restored and verified in `));
});

test('a drill whose coordinator is killed is shown interrupted, with the command that resumes it; that command finishes it', async () => {
  const drill = spawn(process.execPath, [CLI_MAIN, 'drill', 'latest', '--config', f.fleetFile, '--scratch-dir', join(f.dir, 'scratch')], { stdio: 'ignore' });
  const exited = new Promise((r) => drill.once('exit', r));
  try {
    await statusUntil((v) => v.restore?.kind === 'drill' && v.restore.phase === 'schema' && v.restore.nodes.some((n) => n.running), 'the drill in its schema phase');
  } finally {
    drill.kill('SIGKILL');
    await exited;
  }
  // The agents end the phase once they see the call cancelled.
  const v = await statusUntil((s) => s.restore?.state === 'interrupted' && s.restore.nodes.every((n) => n.phase !== null && !n.running), 'the drill interrupted, every node stopped');
  const r = v.restore!;
  assert.is(r.phase, 'schema');
  assert.equal(r.nodes.map((n) => [n.node, n.phase, n.ok]), [['n1', 'schema', false], ['n2', 'schema', false]]);
  assert.match(r.resume, new RegExp(`^tandem drill ${ID} --config \\S+ --scratch-dir \\S+ --restore-id ${r.restoreId}$`), 'latest resolved to the set the drill started on');
  assert.match((await runCli(['status', '--config', f.fleetFile])).stdout, new RegExp(`\\ndrill ${r.restoreId} of backup ${ID} interrupted in phase schema: pid ${r.pid} on \\S+ is gone; resume it with: tandem drill `));
  const record = JSON.parse(readFileSync(join(f.coordinatorDir, 'restore.json'), 'utf8')) as RestoreRecord;
  const resumed = await runCli(record.resume.slice());
  assert.is(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /drill passed/);
  const after = await status();
  assert.equal([after.restore?.restoreId, after.restore?.state], [r.restoreId, 'restored']);
});

test.run();
