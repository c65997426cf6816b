/**
 * Prune on a real chain, in the formats backups write today: Cassandra's contents.json, the files
 * role's listing.ndjson and an Elasticsearch snapshot per set, on the sandbox's three-store fleet
 * under the hot writer. Three sets (full → incremental → incremental); a prune killed while it
 * removes files, then the next one; then `prune --keep-last 1`:
 * the kept set still verifies, every file it references in the pruned sets stays, every other file
 * of the pruned sets is removed, their Elasticsearch snapshots are deleted and the kept one stays.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startWriter, stopWriter } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { threeStoreRoles } from '../helpers/sandbox-roles';
import { cliStoppedAt, kill9 } from '../helpers/stopped-cli';
import { readListingFile } from '../helpers/listing';
import { attachmentPath } from '../../shared/parts/files-paths';

const env = sandboxEnvOrNull();
const RUN = Date.now().toString(36);
const REPOSITORY = `tandem-prune-${RUN}`;
const ids = [`chain-a-${RUN}`, `chain-b-${RUN}`, `chain-c-${RUN}`];
let fleet: TestFleet;

test.before(async () => {
  if (!env) return;
  fleet = await makeFleet(threeStoreRoles(env, REPOSITORY), { prepareTimeoutMs: 120_000 });
  await startFleet(fleet);
});
test.after(async () => {
  if (!env) return;
  await stopWriter();
  // The fleet's own snapshot repository, with whatever snapshots a failure left in it.
  await fetch(`${env.elasticsearch.url}/_snapshot/${REPOSITORY}/tandem-*`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${env.elasticsearch.url}/_snapshot/${REPOSITORY}`, { method: 'DELETE' }).catch(() => undefined);
  rmSync(join(env.elasticsearch.pathRepo, REPOSITORY), { recursive: true, force: true });
  await removeFleet(fleet);
});

type Stored = { path: string };
const manifestOf = (id: string) => JSON.parse(readFileSync(join(fleet.destDir, id, 'manifest.json'), 'utf8')) as { files: Stored[]; references: (Stored & { set: string })[]; nodes: { parts: Record<string, { snapshot?: string }> }[] };

/** Every regular file under the set's folder, as destination paths (`<id>/…`), dot names included. */
function filesUnder(id: string): string[] {
  const dir = join(fleet.destDir, id);
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => statSync(join(dir, p)).isFile()).map((p) => `${id}/${p}`);
}

/** The Elasticsearch snapshots the fleet's repository holds. */
async function snapshots(): Promise<string[]> {
  const r = await fetch(`${env!.elasticsearch.url}/_snapshot/${REPOSITORY}/_all`);
  assert.is(r.status, 200, await r.clone().text());
  return ((await r.json()) as { snapshots: { snapshot: string }[] }).snapshots.map((s) => s.snapshot);
}

test('a chain of three sets under the hot writer: full, then two incremental sets', async () => {
  needSandbox(env);
  await startWriter();
  for (const [i, id] of ids.entries()) {
    const r = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--id', id, ...(i === 0 ? ['--full'] : [])]);
    assert.is(r.code, 0, r.stderr);
    assert.is(JSON.parse(r.stdout).parent, i === 0 ? null : ids[i - 1]);
  }
  await stopWriter();
});

test('prune killed (SIGKILL) while it removes files of the full set: the later sets verify, and the next prune finishes', async () => {
  needSandbox(env);
  const point = 'prune-removing-files';
  await kill9(await cliStoppedAt(['prune', '--config', fleet.fleetFile, '--keep-last', '2'], point));
  for (const id of ids.slice(1)) {
    const v = await runCli(['verify', id, '--config', fleet.fleetFile]);
    assert.is(v.code, 0, v.stdout + v.stderr);
  }
  const again = await runCli(['prune', '--config', fleet.fleetFile, '--keep-last', '2']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /taking over the stale lock/);
  assert.not.ok(existsSync(join(fleet.destDir, ids[0], 'manifest.json')), 'the full set is pruned');
});

test('prune --keep-last 1 on a Cassandra, Elasticsearch and files chain keeps what the kept set needs, and only that', async () => {
  needSandbox(env);
  const kept = manifestOf(ids[2]);
  // The formats of today, not the legacy ones: a chain that reached this far wrote them.
  assert.ok(kept.files.some((f) => f.path.endsWith('/files/listing.ndjson')), 'the files part is a listing.ndjson');
  assert.ok(kept.files.some((f) => f.path.endsWith('/cassandra/contents.json')), 'each Cassandra part has its contents.json');
  const referenced = new Set(kept.references.map((r) => r.path));
  assert.ok([...referenced].some((p) => p.startsWith(`${ids[0]}/`) && p.includes('/cassandra/')), 'the kept set references Cassandra archives of the full set');
  // The attachments its listing says earlier sets store, read from the listing itself.
  const listingPath = kept.files.find((f) => f.path.endsWith('/files/listing.ndjson'))!.path;
  const listing = await readListingFile(join(fleet.destDir, listingPath), ids[2]);
  const node = listingPath.split('/')[1];
  const earlier = listing.files.filter((f) => f.set && f.set !== ids[2]).map((f) => attachmentPath(ids[2], node, listing.header.store, f));
  assert.ok(earlier.length > 0, 'the kept set\'s listing names attachments stored by earlier sets');
  for (const p of earlier) referenced.add(p);
  const before = new Map(ids.slice(0, 2).map((id) => [id, filesUnder(id)]));
  const snapsBefore = await snapshots();
  assert.is(snapsBefore.length, 2, `one Elasticsearch snapshot per set left: ${snapsBefore.join(', ')}`);

  const r = await runCli(['prune', '--config', fleet.fleetFile, '--keep-last', '1', '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);

  const v = await runCli(['verify', ids[2], '--config', fleet.fleetFile]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  for (const path of referenced) assert.ok(existsSync(join(fleet.destDir, path)), `${path}, referenced by the kept set, stays`);
  for (const [id, files] of before) {
    const left = new Set(filesUnder(id));
    if (id !== ids[0]) assert.ok(files.some((p) => !referenced.has(p) && !left.has(p)), `${id} had files no kept set needs, and they went`);
    assert.not.ok(left.has(`${id}/manifest.json`), `${id} is no longer a set`);
    for (const path of files) {
      if (referenced.has(path)) continue;
      if (/\/pruned\.(json|sig)$/.test(path)) continue;
      assert.not.ok(left.has(path), `${path}, needed by no kept set, is removed`);
    }
  }
  const list = await runCli(['list', '--config', fleet.fleetFile, '--json']);
  assert.is(list.code, 0, list.stderr);
  const complete = (JSON.parse(list.stdout).backupSets as { id: string; status: string }[]).filter((s) => s.status === 'complete').map((s) => s.id);
  assert.equal(complete, [ids[2]]);
  const snapsAfter = await snapshots();
  assert.is(snapsAfter.length, 1, `only the kept set's snapshot stays: ${snapsAfter.join(', ')}`);
  assert.ok(snapsBefore.includes(snapsAfter[0]));
});

test.run();
