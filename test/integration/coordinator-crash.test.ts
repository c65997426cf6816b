/**
 * kill -9 of the coordinator at each step of a backup, with real agents (rehearsal role) and the
 * real CLI: `tandem recover`, or the next `tandem backup`, finishes the set when every node had
 * shipped and removes it everywhere otherwise. Never a set half there.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFleet, removeFleet, runCli, startAgent, startFleet, statusOf, stopAgent, type TestFleet } from '../helpers/fleet';
import { cliStoppedAt, kill9 } from '../helpers/stopped-cli';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function fleetOf(shipMs = 200): Promise<TestFleet> {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs } } }, { node: 'n2', roles: { rehearsal: { shipMs } } }]);
  fleets.push(f);
  await startFleet(f);
  return f;
}

/** `tandem backup --id ID` stopped at `point`. */
const backupStoppedAt = (f: TestFleet, id: string, point: string) => cliStoppedAt(['backup', '--config', f.fleetFile, '--json', '--id', id], point);


const journalOf = (f: TestFleet, id: string) => JSON.parse(readFileSync(join(f.coordinatorDir, 'journal', `${id}.json`), 'utf8'));

async function recover(f: TestFleet) {
  const r = await runCli(['recover', '--config', f.fleetFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).recovered as { id: string; from: string; result: string; reason: string }[];
}

for (const [point, step] of [['before-prepare', 'preparing'], ['before-commit', 'committing']] as const) {
  test(`coordinator killed at ${point}: recover aborts everywhere and nothing is left`, async () => {
    const f = await fleetOf();
    const id = `set-killed-${point}`;
    await kill9(await backupStoppedAt(f, id, point));
    assert.is(journalOf(f, id).step, step);
    if (point === 'before-commit') assert.equal(await statusOf(f, id), ['PREPARED', 'PREPARED']);
    const [r] = await recover(f);
    assert.equal([r.id, r.from, r.result], [id, step, 'removed'], r.reason);
    assert.is(journalOf(f, id).step, 'aborted');
    const states = await statusOf(f, id);
    assert.ok(states.every((s) => s === 'ABORTED' || s === 'NOT_FOUND'), states.join());
    assert.not.ok(existsSync(join(f.destDir, id)), 'nothing at the destination');
    assert.equal(await recover(f), [], 'a second recover has nothing to do');
  });
}

for (const [point, step] of [['shipping', 'shipping'], ['before-manifest', 'writing-manifest'], ['after-manifest', 'writing-manifest']] as const) {
  test(`coordinator killed at ${point}: recover completes the set, and it verifies`, async () => {
    const f = await fleetOf(1500);
    const id = `set-killed-${point}`;
    await kill9(await backupStoppedAt(f, id, point));
    assert.is(journalOf(f, id).step, step);
    assert.not.ok(point !== 'after-manifest' && existsSync(join(f.destDir, id, 'manifest.json')), 'no manifest yet');
    const [r] = await recover(f);
    assert.equal([r.id, r.from, r.result], [id, step, 'complete'], r.reason);
    assert.is(journalOf(f, id).step, 'complete');
    assert.equal(await statusOf(f, id), ['DONE', 'DONE']);
    const v = await runCli(['verify', id, '--config', f.fleetFile]);
    assert.is(v.code, 0, v.stderr + v.stdout);
  });
}

test('coordinator killed while shipping and an agent restarted meanwhile: the next backup removes the broken set, then runs', async () => {
  const f = await fleetOf(3000);
  const id = 'set-killed-agent-restarted';
  await kill9(await backupStoppedAt(f, id, 'shipping'));
  // n2 dies mid-ship and comes back: it aborts what it had on start.
  await stopAgent(f.agents[1], 'SIGKILL');
  await startAgent(f, f.agents[1]);
  const next = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-after-recovery']);
  assert.is(next.code, 0, next.stderr);
  assert.match(next.stderr, new RegExp(`recovering backup ${id}: its coordinator .* stopped at step shipping`));
  assert.match(next.stderr, new RegExp(`${id}: removed \\(not every node shipped its part: n2 aborted`));
  assert.is(journalOf(f, id).step, 'aborted');
  assert.equal(await statusOf(f, id), ['ABORTED', 'ABORTED']);
  assert.not.ok(existsSync(join(f.destDir, id)), 'the broken set is gone');
  assert.equal(readdirSync(f.destDir), ['set-after-recovery']);
  assert.is(JSON.parse(next.stdout).status, 'complete');
});

test('an Abort whose undo cannot finish keeps the run open; the next recover finishes it', async () => {
  const f = await fleetOf();
  const id = 'set-debris';
  await kill9(await backupStoppedAt(f, id, 'before-commit'));
  const flag = join(f.dir, 'markers', 'n1', 'abort-fails');
  mkdirSync(dirname(flag), { recursive: true });
  writeFileSync(flag, '');
  const first = await runCli(['recover', '--config', f.fleetFile, '--json']);
  assert.is(first.code, 1, first.stderr);
  const [r1] = JSON.parse(first.stdout).recovered;
  assert.is(r1.result, 'pending');
  assert.match(r1.reason, /n1: .*undo left: rehearsal abort: the rehearsal store is unreachable/);
  assert.is(journalOf(f, id).step, 'cleaning');
  rmSync(flag);
  const [r2] = await recover(f);
  assert.equal([r2.id, r2.result], [id, 'removed'], r2.reason);
  assert.equal(await statusOf(f, id), ['ABORTED', 'ABORTED']);
  assert.not.ok(existsSync(join(f.destDir, id)));
});

test('an id in the journal is never reused', async () => {
  const f = await fleetOf();
  const id = 'set-journaled';
  await kill9(await backupStoppedAt(f, id, 'before-prepare'));
  await recover(f);
  const again = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', id]);
  assert.is(again.code, 1, again.stderr);
  assert.match(JSON.parse(again.stdout).reason, /journal .* has a run set-journaled/);
});

test.run();
