/**
 * A chain of sets on the sandbox under the hot writer: full → incremental → incremental after a
 * compaction. The later sets store only new SSTables and reference the rest; restoring the last
 * one, after its first set was deleted, brings back every record the writer acknowledged before
 * its cut, in all three stores; verify names a missing earlier archive; the tar commands of
 * `tandem show --archives` rebuild each table folder by hand.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Client } from 'cassandra-driver';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand } from '../../shared/exec';
import { parseSnapshotTags } from '../../agent/roles/cassandra/nodetool';
import { startWriter, stopWriter, type WriterRecord } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { threeStoreRoles } from '../helpers/sandbox-roles';
import { removeScratch, scratchDir } from '../helpers/scratch';

const env = sandboxEnvOrNull();
let fleet: TestFleet;
const RUN = Date.now().toString(36);
const SCRATCH = 'thehive_incr';
const PREFIX = 'incr-';

test.before(async () => {
  if (!env) return;
  fleet = await makeFleet(threeStoreRoles(env), { prepareTimeoutMs: 120_000 });
  await startFleet(fleet);
});
test.after(async () => {
  if (!env) return;
  await stopWriter();
  await removeFleet(fleet);
});

const manifestOf = (id: string) => JSON.parse(readFileSync(join(fleet.destDir, id, 'manifest.json'), 'utf8'));
const contentsOf = (id: string, node: string) => JSON.parse(readFileSync(join(fleet.destDir, id, node, 'cassandra', 'contents.json'), 'utf8'));

async function backup(id: string, args: string[] = []) {
  const r = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--id', id, ...args]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const ids = { full: `incr-full-${RUN}`, second: `incr-second-${RUN}`, third: `incr-third-${RUN}` };

test('full, then incremental, then incremental after a compaction: each stores what is new and references the rest', async () => {
  needSandbox(env);
  await startWriter();
  const full = await backup(ids.full, ['--full']);
  assert.is(full.parent, null);
  const second = await backup(ids.second);
  assert.is(second.parent, ids.full);
  assert.ok(second.bytes < full.bytes, `the second set stores less (${second.bytes} < ${full.bytes} bytes)`);
  const m2 = manifestOf(ids.second);
  assert.is(m2.parent, ids.full);
  assert.ok(m2.references.length > 0, 'the second set references archives of the first');
  assert.ok(m2.references.every((r: { set: string; path: string }) => r.set === ids.full && r.path.startsWith(`${ids.full}/`)));
  // An SSTable the first set holds is not archived again: node2's graphindex takes no writes from the writer.
  const c2 = contentsOf(ids.second, 'node2').tables['thehive.graphindex'];
  assert.ok(c2.sstables.length > 0 && c2.sstables.every((s: { set: string }) => s.set === ids.full), 'graphindex SSTables stay in the full set');
  assert.ok(c2.files.every((f: { path: string }) => !/-Data\.db$/.test(f.path)), "the second set's graphindex archive holds no Data component");
  assert.ok(c2.files.some((f: { path: string }) => /-Statistics\.db$/.test(f.path)), 'but Statistics.db is captured again');

  // A compaction rewrites edgestore: the third set archives the new SSTable in full.
  await Promise.all(env.cassandra.nodes.map((n) => runCommand([n.nodetool, 'compact', 'thehive', 'edgestore'], { timeoutMs: 600_000 })));
  const third = await backup(ids.third);
  assert.is(third.parent, ids.second);
  const c3 = contentsOf(ids.third, 'node2').tables['thehive.edgestore'];
  assert.ok(c3.sstables.some((s: { set: string }) => s.set === ids.third), 'the compacted SSTable is archived by the third set');
});

test('verify names a referenced archive of an earlier set that is missing', async () => {
  needSandbox(env);
  const ref = manifestOf(ids.third).references.find((r: { set: string }) => r.set === ids.full);
  assert.ok(ref, 'the third set relies on an archive of the full set');
  const file = join(fleet.destDir, ref.path);
  renameSync(file, `${file}.away`);
  try {
    const r = await runCli(['verify', ids.third, '--config', fleet.fleetFile]);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.ok((r.stdout + r.stderr).includes(ref.path), `verify names ${ref.path}: ${r.stdout}${r.stderr}`);
  } finally {
    renameSync(`${file}.away`, file);
  }
});

test('deleting the parent keeps what later sets need: they still verify, and the next test restores the last one', async () => {
  needSandbox(env);
  const r = await runCli(['delete', ids.full, '--config', fleet.fleetFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(fleet.destDir, ids.full, 'manifest.json')), 'the full set is no longer a set');
  for (const ref of manifestOf(ids.third).references) assert.ok(existsSync(join(fleet.destDir, ref.path)), `${ref.path} is kept`);
  for (const id of [ids.second, ids.third]) {
    const v = await runCli(['verify', id, '--config', fleet.fleetFile]);
    assert.is(v.code, 0, v.stdout + v.stderr);
  }
});

test('restoring the last set of the chain brings back every acknowledged record, in all three stores', async () => {
  needSandbox(env);
  await stopWriter();
  const m = manifestOf(ids.third);
  const cut = Math.min(...m.nodes.flatMap((n: { commits: Record<string, { cutAt?: number }> }) => Object.values(n.commits).map((c) => c.cutAt ?? Infinity)));
  const records = readFileSync(join(env.root, 'writer.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as WriterRecord);
  const acked = records.filter((r) => Math.max(Date.parse(r.cassandraAckAt), Date.parse(r.esAckAt), Date.parse(r.fileAckAt)) < cut).slice(-300);
  assert.ok(acked.length > 0, 'the writer acknowledged records before the cut');
  const filesTarget = await scratchDir('incr-files');
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
  try {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${SCRATCH}`);
    const r = await runCli(['restore', ids.third, '--config', fleet.fleetFile, '--yes', '--json', '--target-keyspace', SCRATCH, '--index-prefix', PREFIX, '--files-target', filesTarget]);
    assert.is(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).ok, r.stdout.slice(0, 2000));
    let lost = 0;
    for (const rec of acked) {
      const row = await cql.execute(`SELECT key FROM ${SCRATCH}.edgestore WHERE key = ?`, [Buffer.from(rec.id)], { prepare: true });
      const doc = await fetch(`${env.elasticsearch.url}/${PREFIX}thehive_global/_doc/${rec.id}`);
      if (row.rowLength === 0 || doc.status !== 200 || !existsSync(join(filesTarget, 'hw', rec.id))) lost++;
    }
    assert.is(lost, 0, `${lost} of ${acked.length} acknowledged records missing`);
  } finally {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${SCRATCH}`).catch(() => undefined);
    await cql.shutdown();
    await fetch(`${env.elasticsearch.url}/${PREFIX}*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => undefined);
    removeScratch(filesTarget);
    // The scratch keyspace's DROP made every node snapshot it (auto_snapshot): not tandem's, cleared here.
    await Promise.all(env.cassandra.nodes.map(async (n) => {
      const tags = parseSnapshotTags((await runCommand([n.nodetool, 'listsnapshots'], { timeoutMs: 120_000 })).stdout);
      for (const t of tags.filter((x) => x.keyspace === SCRATCH)) await runCommand([n.nodetool, 'clearsnapshot', '-t', t.tag, '--', SCRATCH], { timeoutMs: 120_000 });
    }));
  }
});

test("show --archives prints tar commands that rebuild every table folder as the snapshot held it", async () => {
  needSandbox(env);
  const r = await runCli(['show', ids.third, '--archives', '--config', fleet.fleetFile]);
  assert.is(r.code, 0, r.stderr);
  const work = await scratchDir('incr-tar');
  try {
    // Run them as an operator would, one argv per line (paths hold no spaces).
    for (const line of r.stdout.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const argv = line.split(' ');
      await runCommand(argv, { cwd: work, timeoutMs: 600_000 });
    }
    const contents = contentsOf(ids.third, 'node2').tables as Record<string, { files: { path: string; sha256: string }[]; sstables: { components: { path: string; sha256: string }[] }[] }>;
    for (const [table, c] of Object.entries(contents)) {
      const dir = join(work, 'restore', 'node2', ...table.split('.'));
      for (const f of [...c.files, ...c.sstables.flatMap((s) => s.components)]) {
        const sha = createHash('sha256').update(await readFile(join(dir, f.path))).digest('hex');
        assert.is(sha, f.sha256, `${table} ${f.path}`);
      }
    }
  } finally {
    removeScratch(work);
  }
});

test.run();
