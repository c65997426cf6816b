/** `tandem status` from another terminal while the real CLI runs a backup on real agents. */
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StatusView } from '../../coordinator/backup/status';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function status(f: TestFleet): Promise<StatusView> {
  const r = await runCli(['status', '--config', f.fleetFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusView;
}

test('status shows the running backup shipping on every node, then none and the last run complete', async () => {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 4000 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 4000 } } }]);
  fleets.push(f);
  await startFleet(f);
  const before = await status(f);
  assert.equal([before.running, before.last, before.nodes], [null, null, []]);

  const id = 'status-while-shipping';
  const backup = runCli(['backup', '--config', f.fleetFile, '--id', id, '--json']);
  let seen: StatusView | undefined;
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(200)) {
    const v = await status(f);
    // The rehearsal role reports its first progress a quarter of shipMs into shipping.
    if (v.running?.step === 'shipping' && v.nodes.every((n) => n.state === 'shipping' && n.roles.length)) {
      seen = v;
      break;
    }
  }
  assert.ok(seen, 'status never showed the backup shipping on every node');
  assert.is(seen.running!.backupId, id);
  assert.ok(seen.running!.pid > 0);
  assert.equal(Object.keys(seen.running!.steps), ['preparing', 'committing', 'shipping']);
  assert.equal(seen.nodes.map((n) => [n.node, n.reachable, n.state, n.roles.map((r) => r.role)]), [['n1', true, 'shipping', ['rehearsal']], ['n2', true, 'shipping', ['rehearsal']]]);
  for (const n of seen.nodes) assert.ok(n.bytesTotal === 40 && n.bytesDone >= 10 && n.rateBytesPerSec! > 0, JSON.stringify(n));
  const text = await runCli(['status', '--config', f.fleetFile]);
  assert.match(text.stdout, new RegExp(`backup ${id} running: step shipping`));
  assert.match(text.stdout, /\n {2}n1: shipping \(rehearsal /);

  const done = await backup;
  assert.is(done.code, 0, done.stderr);
  const after = await status(f);
  assert.is(after.running, null);
  assert.equal(after.nodes, []);
  assert.equal(after.unfinished, []);
  assert.equal(after.last && [after.last.backupId, after.last.outcome], [id, 'complete']);
  assert.ok(after.last!.durationMs >= 4000, `duration ${after.last!.durationMs} ms`);
  const idleText = await runCli(['status', '--config', f.fleetFile]);
  assert.match(idleText.stdout, new RegExp(`^no backup running\\nlast: backup ${id} complete in `));
});

test('an agent that does not answer is shown unreachable, not fatal', async () => {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 4000 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 4000 } } }]);
  fleets.push(f);
  await startFleet(f);
  const backup = runCli(['backup', '--config', f.fleetFile, '--id', 'status-one-gone', '--json']);
  let v: StatusView | undefined;
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(200)) {
    v = await status(f);
    if (v.running?.step === 'shipping') break;
  }
  assert.is(v?.running?.step, 'shipping');
  // Stopped (SIGSTOP): the agent holds its connections but answers nothing until the deadline.
  const n2 = f.agents[1].process!;
  n2.kill('SIGSTOP');
  try {
    const r = await runCli(['status', '--config', f.fleetFile, '--json', '--timeout', '1000']);
    assert.is(r.code, 0, r.stderr);
    const gone = JSON.parse(r.stdout) as StatusView;
    assert.equal(gone.nodes.map((n) => [n.node, n.reachable, n.state]), [['n1', true, 'shipping'], ['n2', false, null]]);
    assert.match(gone.nodes[1].error, /DEADLINE_EXCEEDED/);
  } finally {
    n2.kill('SIGCONT');
  }
  assert.is((await backup).code, 0);
});

test.run();
