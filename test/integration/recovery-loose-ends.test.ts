/**
 * The loose ends of recovery, with real agents (rehearsal role), mutual TLS and the real CLI:
 * `tandem recover --abandon` for a backup whose agent is gone for good, and
 * `tandem agents --clear-restore` for a restore that is never resumed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StatusView } from '../../coordinator/backup/status';
import { CLI_MAIN, makeFleet, removeFleet, runCli, startFleet, statusOf, stopAgent, type TestFleet } from '../helpers/fleet';
import { cliStoppedAt, kill9 } from '../helpers/stopped-cli';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function fleetOf(roles: Record<string, unknown>): Promise<TestFleet> {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: roles } }, { node: 'n2', roles: { rehearsal: roles } }]);
  fleets.push(f);
  await startFleet(f);
  return f;
}

/** `tandem backup --id ID` stopped at `point`. */
const backupStoppedAt = (f: TestFleet, id: string, point: string) => cliStoppedAt(['backup', '--config', f.fleetFile, '--json', '--id', id], point);

const journalOf = (f: TestFleet, id: string) => JSON.parse(readFileSync(join(f.coordinatorDir, 'journal', `${id}.json`), 'utf8'));

test('recover --abandon: an agent gone for good after Commit; the other undoes its part, the run is closed, later backups no longer print it', async () => {
  const f = await fleetOf({ shipMs: 3000 });
  const id = 'set-agent-gone';
  await kill9(await backupStoppedAt(f, id, 'shipping'));
  await stopAgent(f.agents[1], 'SIGKILL');
  const pending = await runCli(['recover', '--config', f.fleetFile, '--json']);
  assert.is(pending.code, 1, pending.stderr);
  assert.is(JSON.parse(pending.stdout).recovered[0].result, 'pending');

  const refused = await runCli(['recover', '--config', f.fleetFile, '--abandon', 'set-never-run']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /backup set-never-run is not in the journal .*nothing to abandon/);

  const r = await runCli(['recover', '--config', f.fleetFile, '--abandon', id, '--reason', 'n2 decommissioned', '--json']);
  assert.is(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout).abandoned;
  assert.equal([a.id, a.undone], [id, ['n1']]);
  assert.match(a.unreached[0], /^n2: /);
  assert.match(a.left, new RegExp(`what n2 wrote stays under ${id}/ at .*never taken for a backup`));
  assert.is(journalOf(f, id).step, 'abandoned');
  assert.match(journalOf(f, id).reason, /^abandoned by the operator: n2 decommissioned; not reached: n2: /);
  assert.equal((await statusOf({ ...f, agents: [f.agents[0]] }, id)), ['ABORTED']);
  assert.not.ok(existsSync(join(f.destDir, id, 'n1')), "n1's part is gone");

  const again = await runCli(['recover', '--config', f.fleetFile, '--abandon', id]);
  assert.is(again.code, 1);
  assert.match(again.stderr, new RegExp(`backup ${id} is not open in the journal: it ended \\(abandoned`));
  const status = JSON.parse((await runCli(['status', '--config', f.fleetFile, '--json'])).stdout) as StatusView;
  assert.equal(status.unfinished, []);
  assert.equal([status.last?.backupId, status.last?.outcome], [id, 'abandoned']);
});

test('agents --clear-restore: a killed drill leaves its folder on every agent; cleared there, it is gone, and a second clear finds nothing', async () => {
  const f = await fleetOf({ shipMs: 100, restoreMs: 2000 });
  const id = 'set-for-clear';
  const b = await runCli(['backup', '--config', f.fleetFile, '--id', id]);
  assert.is(b.code, 0, b.stderr);
  const drill = spawn(process.execPath, [CLI_MAIN, 'drill', id, '--config', f.fleetFile, '--scratch-dir', join(f.dir, 'scratch')], { stdio: 'ignore' });
  const exited = new Promise((r) => drill.once('exit', r));
  let restoreId = '';
  try {
    for (const end = Date.now() + 15_000; Date.now() < end && !restoreId; await sleep(200)) {
      const v = JSON.parse((await runCli(['status', '--config', f.fleetFile, '--json'])).stdout) as StatusView;
      if (v.restore?.phase === 'schema' && v.restore.nodes.some((n) => n.running)) restoreId = v.restore.restoreId;
    }
  } finally {
    drill.kill('SIGKILL');
    await exited;
  }
  assert.ok(restoreId, 'the drill never reached its schema phase');
  const folders = f.agents.map((a) => join(a.stateDir, 'restore', restoreId));
  assert.ok(folders.every((d) => existsSync(join(d, 'restore.json'))), 'every agent holds the restore');
  // The agents end the cancelled phase once they see the call gone; until then they refuse.
  let cleared: { code: number; stdout: string; stderr: string } | undefined;
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(300)) {
    cleared = await runCli(['agents', '--config', f.fleetFile, '--clear-restore', restoreId, '--json']);
    if (cleared.code === 0) break;
  }
  assert.is(cleared!.code, 0, cleared!.stdout + cleared!.stderr);
  assert.equal(JSON.parse(cleared!.stdout).agents.map((o: { node: string; result: string; detail: string }) => [o.node, o.result, o.detail]), [['n1', 'cleared', id], ['n2', 'cleared', id]]);
  assert.ok(folders.every((d) => !existsSync(d)), 'the folders are gone');
  const record = JSON.parse(readFileSync(join(f.coordinatorDir, 'restore.json'), 'utf8'));
  assert.match(record.ended.reason, /cleared with 'tandem agents --clear-restore'/);
  const second = await runCli(['agents', '--config', f.fleetFile, '--clear-restore', restoreId]);
  assert.is(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`n1 holds nothing of restore ${restoreId}\\nn2 holds nothing of restore ${restoreId}`));
});

test.run();
