/**
 * The destination lock with real agents (rehearsal role), the real CLI and a local destination
 * shared by two fleet files with different state folders, as two coordinators on two hosts or a
 * copy of the fleet file would be: while the first ships a backup, the second's prune, delete,
 * recover and backup are refused at once naming the holder, and nothing is removed. On S3 (the
 * sandbox's MinIO), the conditional writes under it: destination-s3.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type DestinationLease } from '../../coordinator/backup/destination-lock';
import { DESTINATION_LOCK_FILE } from '../../shared/destination/layout';
import { makeFleet, otherFleetFile, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
  assert.unreachable(`timed out waiting for ${what}`);
}

/**
 * Every file under `dir`, relative, sorted; temporaries (a segment starting with '.', e.g. an agent's
 * write probe in flight during Prepare) are left out, as every reader of a destination leaves them out.
 */
const files = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((p) => !p.split('/').some((seg) => seg.startsWith('.')))
    .sort();

test('a second coordinator on the same destination is refused at once while a backup ships, naming the holder; the backup completes', async () => {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 6000 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 6000 } } }]);
  fleets.push(f);
  await startFleet(f);
  const second = await otherFleetFile(f, 'second-coordinator');
  const a = runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-shipping']);
  await until('the lease at the destination', () => existsSync(join(f.destDir, DESTINATION_LOCK_FILE)));
  const lease = JSON.parse(readFileSync(join(f.destDir, DESTINATION_LOCK_FILE), 'utf8')) as DestinationLease;
  assert.is(lease.verb, 'backup');
  assert.is(lease.host, hostname());
  assert.is(lease.stateDir, f.coordinatorDir);
  const before = files(f.destDir);
  const holder = new RegExp(
    `another tandem backup holds the destination lock of local:${f.destDir} since ${lease.acquiredAt.replace(/\./g, '\\.')} \\(host ${hostname()} pid ${lease.pid}, state folder ${f.coordinatorDir}\\), until .*; wait for it to end, or if that coordinator is gone, the lock expires at`,
  );
  // A copy of the fleet file with its own state folder: only the destination's lock stands in its way.
  for (const args of [['prune', '--keep-last', '1'], ['delete', 'set-shipping'], ['recover'], ['backup', '--id', 'set-other']]) {
    const r = await runCli([args[0], '--config', second, ...args.slice(1)]);
    assert.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, holder, args.join(' '));
    assert.not.match(r.stderr, /another tandem backup is running|taking over/, 'the state folder lock is not the one that refused');
    assert.not.match(r.stderr, /describing/, 'no RPC was sent');
  }
  assert.equal(files(f.destDir).filter((p) => before.includes(p)), before, 'nothing was removed');
  const dry = await runCli(['prune', '--config', second, '--keep-last', '1', '--dry-run']);
  assert.is(dry.code, 0, `a dry run takes no lock: ${dry.stderr}`);
  const ra = await a;
  assert.is(ra.code, 0, ra.stderr);
  assert.is(JSON.parse(ra.stdout).status, 'complete');
  assert.not.ok(existsSync(join(f.destDir, DESTINATION_LOCK_FILE)), 'released when the backup ends');
  const pruned = await runCli(['prune', '--config', second, '--keep-last', '1']);
  assert.is(pruned.code, 0, `free again: ${pruned.stderr}`);
});

test('a lease left by a killed coordinator of this host is taken over by the next run, with a warning', async () => {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 6000 } } }]);
  fleets.push(f);
  await startFleet(f);
  const child = runCli(['backup', '--config', f.fleetFile, '--id', 'set-killed']);
  await until('the lease at the destination', () => existsSync(join(f.destDir, DESTINATION_LOCK_FILE)));
  const lease = JSON.parse(readFileSync(join(f.destDir, DESTINATION_LOCK_FILE), 'utf8')) as DestinationLease;
  process.kill(lease.pid, 'SIGKILL');
  await child;
  const r = await runCli(['recover', '--config', f.fleetFile]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: taking over the abandoned destination lock of local:${f.destDir}: tandem backup \\(host ${hostname()} pid ${lease.pid}`));
  assert.is(r.stderr.match(/taking over the stale lock/g)?.length ?? 0, 1, 'the state folder lock warns once, as before');
  assert.not.ok(existsSync(join(f.destDir, DESTINATION_LOCK_FILE)));
});

test.run();
