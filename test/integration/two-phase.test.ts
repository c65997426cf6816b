/**
 * The two-phase protocol between real tandem-agent processes and the real tandem CLI, over
 * mutual TLS on loopback.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from '../helpers/assert';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { CLI_MAIN, handles, makeFleet, otherFleetFile, removeFleet, runCli, startAgent, startFleet, statusOf, stopAgent, unusedPort, type TestFleet } from '../helpers/fleet';
import { localPlan } from '../helpers/plan';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function fleetOf(specs: Parameters<typeof makeFleet>[0], opts?: Parameters<typeof makeFleet>[1]) {
  const f = await makeFleet(specs, opts);
  fleets.push(f);
  await startFleet(f);
  return f;
}

async function states(f: TestFleet): Promise<string[]> {
  const hs = handles(f);
  try {
    return await Promise.all(hs.map(async (h) => AgentState[(await h.describe(3000)).state]));
  } finally {
    hs.forEach((h) => h.close());
  }
}

const marker = (f: TestFleet, node: string, id: string, step: string) => existsSync(join(f.dir, 'markers', node, id, step));

/** Waits until `check` holds, polling every 100 ms; fails the test after `ms`. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
  assert.unreachable(`timed out waiting for ${what}`);
}


/** Every file under a folder, recursively, with its sha256: a listing to compare before and after. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .map((p) => `${p.slice(dir.length)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`)
    .sort();
}

/** A fleet of two agents whose ship takes `shipMs`. */
const slowShippers = (shipMs: number) => [{ node: 'n1', roles: { rehearsal: { shipMs } } }, { node: 'n2', roles: { rehearsal: { shipMs } } }];

test('all vote yes: every agent commits, ships, and the manifest is written last', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }, { node: 'n3' }]);
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-all-yes']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.status, 'complete');
  assert.is(out.id, 'set-all-yes');
  assert.type(out.snapshotSpreadMs, 'number');
  assert.ok(out.bytes > 0);
  for (const n of ['n1', 'n2', 'n3']) {
    assert.ok(marker(f, n, 'set-all-yes', 'committed'), `${n} committed`);
    assert.ok(marker(f, n, 'set-all-yes', 'cleaned'), `${n} cleaned up`);
  }
  const manifest = JSON.parse(readFileSync(join(f.destDir, 'set-all-yes', 'manifest.json'), 'utf8'));
  assert.is(manifest.nodes.length, 3);
  assert.is(manifest.files.length, 6, 'per node: its rehearsal file and its part.json');
  assert.equal(await states(f), ['IDLE', 'IDLE', 'IDLE']);
  const list = await runCli(['list', '--config', f.fleetFile, '--json']);
  assert.equal(JSON.parse(list.stdout).backupSets.map((s: { id: string; status: string }) => [s.id, s.status]), [['set-all-yes', 'complete']]);
});

test('the manifest comes after every part is whole; until then list calls the set incomplete, never complete', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }]);
  const id = 'set-manifest-order';
  // The coordinator stops itself (SIGSTOP) where the manifest would be written next.
  const child = spawn(process.execPath, [CLI_MAIN, 'backup', '--config', f.fleetFile, '--json', '--id', id], { env: { ...process.env, TANDEM_FAULT_POINT: 'before-manifest' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await until('the coordinator at before-manifest', () => stderr.includes('fault point before-manifest reached'), 60_000);
    const set = join(f.destDir, id);
    assert.not.ok(existsSync(join(set, 'manifest.json')), 'no manifest before the parts are whole');
    for (const n of ['n1', 'n2']) {
      assert.ok(existsSync(join(set, n, 'part.json')), `${n}'s part is at the destination before the manifest`);
      assert.ok(marker(f, n, id, 'committed'), `${n} committed before the manifest`);
    }
    const during = await runCli(['list', '--config', f.fleetFile, '--json']);
    assert.is(during.code, 0, during.stderr);
    const listed = JSON.parse(during.stdout).backupSets.find((s: { id: string }) => s.id === id);
    assert.ok(listed, `list shows the manifest-less set: ${during.stdout}`);
    assert.is.not(listed.status, 'complete');
    child.kill('SIGCONT');
    assert.is(await exited, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  assert.is(JSON.parse(stdout).status, 'complete');
  const manifest = JSON.parse(readFileSync(join(f.destDir, id, 'manifest.json'), 'utf8'));
  // Every file the manifest names was there, whole, before it: its digest is what was shipped.
  for (const file of manifest.files as { path: string; sha256: string }[]) {
    assert.is(createHash('sha256').update(readFileSync(join(f.destDir, file.path))).digest('hex'), file.sha256, file.path);
  }
  const after = await runCli(['list', '--config', f.fleetFile, '--json']);
  assert.is(JSON.parse(after.stdout).backupSets.find((s: { id: string }) => s.id === id).status, 'complete');
});

test('one votes no: nobody commits, everyone aborts and is idle again', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2', roles: { rehearsal: { vote: 'no' } } }, { node: 'n3' }]);
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-one-no']);
  assert.is(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.is(out.status, 'aborted');
  assert.match(out.reason, /n2 votes no: rehearsal: configured to vote no/);
  for (const n of ['n1', 'n2', 'n3']) assert.not.ok(marker(f, n, 'set-one-no', 'committed'), `${n} must not commit`);
  for (const n of ['n1', 'n3']) assert.ok(marker(f, n, 'set-one-no', 'aborted'), `${n} aborted its prepare`);
  assert.equal(await states(f), ['IDLE', 'IDLE', 'IDLE']);
  assert.equal(readdirSync(f.destDir), [], 'nothing left at the destination');
});

test('one agent unreachable: aborted within the deadline, nothing prepared stays', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }], { extraAgents: [{ node: 'ghost', port: await unusedPort() }] });
  const r = await runCli(['backup', '--config', f.fleetFile, '--json']);
  assert.is(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.is(out.status, 'aborted');
  assert.match(out.reason, /ghost unreachable/);
  assert.equal(await states(f), ['IDLE', 'IDLE']);
});

test('coordinator gone after Prepare: the lease expires into a self-abort', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }]);
  const hs = handles(f);
  const plan = localPlan('set-lease', f.destDir, 1500);
  try {
    const sentAt = Date.now();
    for (const h of hs) assert.ok((await h.prepare(plan, 5000)).voteYes);
    assert.equal(await states(f), ['PREPARED', 'PREPARED']);
    // No Commit, no Abort, as if the coordinator had been killed: each agent goes back to IDLE on
    // its own once the 1.5 s lease is over, and not before.
    await until('both agents back to IDLE', async () => (await states(f)).every((s) => s === 'IDLE'));
    assert.ok(Date.now() - sentAt >= 1400, `the lease was kept until it ran out (${Date.now() - sentAt} ms)`);
    for (const h of hs) {
      const s = await h.status('set-lease', 3000);
      assert.is(AgentState[s.state], 'ABORTED');
      assert.match(s.error, /lease expired/);
    }
    await rejects(() => hs[0].commit('set-lease', 3000), /aborted/);
  } finally {
    hs.forEach((h) => h.close());
  }
});

test('Prepare, Commit and Abort are idempotent by backup id', async () => {
  const f = await fleetOf([{ node: 'n1', roles: { rehearsal: { shipMs: 1500 } } }]);
  const [h] = handles(f);
  const plan = localPlan('set-repeat', f.destDir, 10_000);
  try {
    const v1 = await h.prepare(plan, 5000);
    const v2 = await h.prepare(plan, 5000);
    assert.ok(v1.voteYes && v2.voteYes);
    assert.is(v2.leaseExpiresUnixMs, v1.leaseExpiresUnixMs);
    const c1 = await h.commit('set-repeat', 5000);
    const c2 = await h.commit('set-repeat', 5000);
    assert.is(c2.committedUnixMs, c1.committedUnixMs, 'a repeated Commit returns the same cut');
    const other = await h.prepare({ ...plan, backupId: 'set-other', tag: 'set-other' }, 5000);
    assert.not.ok(other.voteYes);
    assert.match(other.reason, /busy with backup set-repeat/);
    await h.abort('set-repeat', 'test', 5000);
    await h.abort('set-repeat', 'test', 5000);
    assert.is(AgentState[(await h.status('set-repeat', 3000)).state], 'ABORTED');
    assert.not.ok(existsSync(join(f.destDir, 'set-repeat', 'n1', 'rehearsal', 'part.txt')), 'abort removed the shipped part');
  } finally {
    h.close();
  }
});

test('a second tandem backup on the same fleet is refused at once by the lock, naming the running backup; the first completes', async () => {
  const f = await fleetOf(slowShippers(4000));
  const lockFile = join(f.coordinatorDir, 'backup.lock');
  const a = runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-a-locked']);
  await until('A shipping on every node', async () => (await states(f)).every((s) => s === 'SHIPPING'));
  const held = JSON.parse(readFileSync(lockFile, 'utf8'));
  assert.is(held.backupId, 'set-a-locked');
  const b = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-b-locked']);
  assert.is(b.code, 1, b.stderr);
  assert.match(b.stderr, new RegExp(`another tandem backup is running with state folder .*: backup set-a-locked \\(pid ${held.pid} on `));
  assert.is(b.stdout, '', 'no outcome: the run never started');
  assert.not.match(b.stderr, /describing/, 'no RPC was sent');
  assert.equal(await states(f), ['SHIPPING', 'SHIPPING']);
  assert.equal(await statusOf(f, 'set-b-locked'), ['NOT_FOUND', 'NOT_FOUND']);
  const ra = await a;
  assert.is(ra.code, 0, ra.stderr);
  assert.is(JSON.parse(ra.stdout).status, 'complete');
  assert.ok(existsSync(join(f.destDir, 'set-a-locked', 'manifest.json')), "A's manifest");
  assert.not.ok(existsSync(lockFile), 'the lock is removed when the backup ends');
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  // SIGTERM is what `systemctl stop` of the backup unit sends.
  test(`${sig}: the backup is aborted on every node and the lock removed`, async () => {
    const f = await fleetOf(slowShippers(6000));
    const id = `set-interrupted-${sig.toLowerCase()}`;
    const lockFile = join(f.coordinatorDir, 'backup.lock');
    const a = runCli(['backup', '--config', f.fleetFile, '--json', '--id', id]);
    await until('shipping on every node', async () => (await states(f)).every((s) => s === 'SHIPPING'));
    process.kill(JSON.parse(readFileSync(lockFile, 'utf8')).pid, sig);
    const r = await a;
    assert.is(r.code, 130, r.stderr);
    assert.match(r.stderr, new RegExp(`interrupted by ${sig}: aborting the backup on every node`));
    assert.not.ok(existsSync(lockFile), 'no lock left');
    assert.equal(await statusOf(f, id), ['ABORTED', 'ABORTED']);
  });
}

test('a lock left by a coordinator that is gone is taken over with a warning', async () => {
  const f = await fleetOf([{ node: 'n1' }]);
  const lockFile = join(f.coordinatorDir, 'backup.lock');
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  mkdirSync(f.coordinatorDir, { recursive: true });
  writeFileSync(lockFile, JSON.stringify({ pid, backupId: 'set-crashed', startedAt: '2026-01-01T00:00:00.000Z', host: hostname() }));
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-after-crash']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: taking over the stale lock .*backup\\.lock of backup set-crashed: pid ${pid} on .* is gone`));
  assert.not.ok(existsSync(lockFile));
});

test('a second coordinator that does not see the lock: its agents vote busy, and its Abort leaves the running backup alone', async () => {
  const f = await fleetOf(slowShippers(6000));
  // Another state folder and another destination: neither lock is shared (one destination is: destination-lock.test.ts).
  const other = await otherFleetFile(f, 'other-coordinator');
  const otherDest = join(f.dir, 'other-dest');
  mkdirSync(otherDest);
  writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(other, 'utf8')), destination: { type: 'local', path: otherDest } }));
  const a = runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-a-unlocked']);
  await until('A shipping on every node', async () => (await states(f)).every((s) => s === 'SHIPPING'));
  const b = await runCli(['backup', '--config', other, '--json', '--id', 'set-b-unlocked']);
  assert.is(b.code, 1, b.stderr);
  const outB = JSON.parse(b.stdout);
  assert.is(outB.status, 'aborted');
  for (const n of ['n1', 'n2']) assert.match(outB.reason, new RegExp(`${n} votes no: node is busy with backup set-a-unlocked`));
  assert.match(b.stderr, /aborting set-b-unlocked on every node/, 'B did send its Abort');
  assert.equal(await states(f), ['SHIPPING', 'SHIPPING'], "B's Abort did not stop A");
  assert.equal(await statusOf(f, 'set-b-unlocked'), ['NOT_FOUND', 'NOT_FOUND'], 'an Abort of an id never prepared leaves no record');
  const ra = await a;
  assert.is(ra.code, 0, ra.stderr);
  assert.is(JSON.parse(ra.stdout).status, 'complete');
  assert.ok(existsSync(join(f.destDir, 'set-a-unlocked', 'manifest.json')), "A's manifest");
  for (const n of ['n1', 'n2']) {
    assert.ok(marker(f, n, 'set-a-unlocked', 'shipped'), `${n} shipped A`);
    assert.not.ok(marker(f, n, 'set-a-unlocked', 'aborted'), `${n} never undid A`);
  }
  assert.equal(await statusOf(f, 'set-a-unlocked'), ['DONE', 'DONE']);
});

test('Abort of a done backup whose set never completed undoes it: its coordinator cleans up a failed run', async () => {
  const f = await fleetOf([{ node: 'n1' }]);
  const id = 'set-done-incomplete';
  const [h] = handles(f);
  try {
    assert.ok((await h.prepare(localPlan(id, f.destDir, 10_000), 5000)).voteYes);
    await h.commit(id, 5000);
    for (let i = 0; i < 100 && AgentState[(await h.status(id, 3000)).state] !== 'DONE'; i++) await sleep(100);
    assert.is(AgentState[(await h.status(id, 3000)).state], 'DONE');
    assert.ok(existsSync(join(f.destDir, id, 'n1', 'rehearsal', 'part.txt')), 'shipped');
    // No manifest: as when another node failed, or the manifest could not be written.
    assert.is(AgentState[(await h.abort(id, 'another node failed', 5000)).state], 'ABORTED');
  } finally {
    h.close();
  }
  assert.not.ok(existsSync(join(f.destDir, id, 'n1', 'rehearsal', 'part.txt')), 'the part is removed');
  assert.not.ok(existsSync(join(f.destDir, id, 'n1')), 'the node\'s folder is removed, record and all');
  assert.ok(marker(f, 'n1', id, 'aborted'), 'the role\'s abort ran');
});

test('Abort of a done backup of a complete set undoes nothing: it stays done and its parts stay at the destination', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }]);
  const id = 'set-done-abort';
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', id]);
  assert.is(r.code, 0, r.stderr);
  const parts = ['n1', 'n2'].flatMap((n) => [`${id}/${n}/rehearsal/part.txt`, `${id}/${n}/part.json`]);
  const read = () => parts.map((p) => (existsSync(join(f.destDir, p)) ? readFileSync(join(f.destDir, p), 'utf8') : `${p} is gone`));
  const before = read();
  const hs = handles(f);
  try {
    for (const h of hs) assert.is(AgentState[(await h.abort(id, 'test', 5000)).state], 'DONE', `${h.node} answers with the backup's state`);
  } finally {
    hs.forEach((h) => h.close());
  }
  assert.equal(await statusOf(f, id), ['DONE', 'DONE']);
  assert.equal(read(), before, 'every part is still at the destination, unchanged');
  for (const n of ['n1', 'n2']) assert.not.ok(marker(f, n, id, 'aborted'), `${n}: the role's abort never ran`);
  const v = await runCli(['verify', id, '--config', f.fleetFile, '--json']);
  assert.is(v.code, 0, v.stdout + v.stderr);
});

test('backup --id of a complete set: refused before Prepare, the set untouched, still complete and intact', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }]);
  const id = 'set-exists';
  const first = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', id]);
  assert.is(first.code, 0, first.stderr);
  const before = listing(join(f.destDir, id));
  assert.is(before.length, 6, 'manifest, its signature, and per node its part.json and rehearsal file');
  const again = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', id]);
  assert.is(again.code, 1, again.stderr);
  const out = JSON.parse(again.stdout);
  assert.is(out.status, 'aborted');
  assert.match(out.reason, /backup id set-exists is already used, nothing was prepared/);
  assert.match(out.reason, /holds a complete set set-exists \(6 files\)/);
  assert.match(out.reason, /n1 already has backup set-exists \(done\)/);
  assert.not.match(again.stderr, /prepare on|aborting/, 'neither Prepare nor Abort was sent');
  assert.equal(listing(join(f.destDir, id)), before, "the set's files are unchanged");
  for (const n of ['n1', 'n2']) assert.not.ok(marker(f, n, id, 'aborted'), `${n}: nothing was undone`);
  assert.equal(await statusOf(f, id), ['DONE', 'DONE']);
  const list = await runCli(['list', '--config', f.fleetFile, '--json']);
  assert.equal(JSON.parse(list.stdout).backupSets.map((s: { id: string; status: string }) => [s.id, s.status]), [[id, 'complete']]);
  const v = await runCli(['verify', id, '--config', f.fleetFile, '--json']);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.ok(JSON.parse(v.stdout).ok);
});

test('backup --id of an id only an agent knows (aborted there): refused before Prepare', async () => {
  const f = await fleetOf([{ node: 'n1' }, { node: 'n2' }]);
  const [h] = handles(f, ['n1']);
  try {
    assert.ok((await h.prepare(localPlan('set-known', f.destDir, 10_000), 5000)).voteYes);
    await h.abort('set-known', 'test', 5000);
  } finally {
    h.close();
  }
  assert.equal(readdirSync(f.destDir), [], 'nothing of it at the destination');
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-known']);
  assert.is(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.match(out.reason, /already used, nothing was prepared: n1 already has backup set-known \(aborted\);/);
  assert.not.match(out.reason, /n2/, 'n2 never heard of it');
  assert.not.ok(marker(f, 'n2', 'set-known', 'prepared'), 'n2 was not prepared');
  assert.equal(await statusOf(f, 'set-known'), ['ABORTED', 'NOT_FOUND']);
});

test('a restarted agent recovers its on-disk state and cleans up', async () => {
  const f = await fleetOf([{ node: 'n1' }]);
  const a = f.agents[0];
  let [h] = handles(f);
  const plan = localPlan('set-crash', f.destDir, 60_000);
  assert.ok((await h.prepare(plan, 5000)).voteYes);
  h.close();
  await stopAgent(a, 'SIGKILL');
  await startAgent(f, a);
  [h] = handles(f);
  try {
    const s = await h.status('set-crash', 3000);
    assert.is(AgentState[s.state], 'ABORTED');
    assert.match(s.error, /agent restarted while the backup was prepared/);
    assert.ok(marker(f, 'n1', 'set-crash', 'aborted'), 'the role undid its prepare');
    assert.equal(await states(f), ['IDLE']);
  } finally {
    h.close();
  }
});

test.run();
