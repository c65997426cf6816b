/**
 * Restore end to end on the sandbox: a three-store backup under the hot writer, a wipe, an
 * in-place restore, and every record the writer had acknowledged before the cut found again in
 * Cassandra, Elasticsearch and the files folder. Also: the sstableloader path, a drill, and the
 * refusals (damaged set, unknown id, incomplete set). Everything this file wipes and restores is
 * its own: a scratch keyspace, index and files folder that its own writer fills, never the
 * sandbox's thehive keyspace, thehive_global index or files folder, which other tests read.
 */
import { existsSync, readFileSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Client, types } from 'cassandra-driver';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runWriter, type WriterRecord } from '../sandbox';
import type { WriterStores } from '../sandbox/writer';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { CLI_MAIN, handles, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { spawn } from 'node:child_process';
import { RestorePhase, type PhaseReport, type TableRows } from '../../shared/generated/tandem/v2/agent';
import { manifestDigest } from '../../shared/manifest';
import { toWireDestination } from '../../shared/wire/destination';
import { parseRestoreOptions, toWireRestoreOptions } from '../../shared/wire/restore';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { threeStoreRoles } from '../helpers/sandbox-roles';
import { parseSnapshotTags } from '../../agent/roles/cassandra/nodetool';
import { runCommand } from '../../shared/exec';

/** The snapshot tags on one sandbox node, by keyspace. */
async function snapshotTags(node: { nodetool: string }) {
  return parseSnapshotTags((await runCommand([node.nodetool, 'listsnapshots'], { timeoutMs: 60_000 })).stdout);
}

const env = sandboxEnvOrNull();
let fleet: TestFleet;
let cql: Client;
// Unique per run: Elasticsearch keeps each backup's snapshot in its repository under this name.
const ID = `restore-e2e-${Date.now().toString(36)}`;
/** This file's own keyspace (and its copies' names), index and files folder. */
const KS = `rt_${Date.now().toString(36)}`;
let stores: WriterStores;
const logFile = () => join(stores.filesDir, '..', `${KS}-writer.log`);

const es = async (method: string, path: string) => {
  const r = await fetch(`${env!.elasticsearch.url}${path}`, { method });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
};

test.before(async () => {
  if (!env) return; // nothing to set up: each test fails on needSandbox()
  const scratch = await scratchDir('restore-stores');
  stores = { keyspace: KS, index: `${KS}_global`, filesDir: join(scratch, 'files') };
  fleet = await makeFleet(threeStoreRoles(env, 'tandem-test', stores), { prepareTimeoutMs: 120_000 });
  await startFleet(fleet);
  cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
});
test.after(async () => {
  if (!env) return; // nothing was set up
  for (const ks of [KS, `${KS}_copy`, `${KS}_resume`]) await cql.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
  await es('DELETE', `/${KS}_global,copy-${KS}_global,resume-${KS}_global?ignore_unavailable=true`).catch(() => undefined);
  await cql.shutdown();
  await removeFleet(fleet);
  removeScratch(join(stores.filesDir, '..'));
});

test('backup under the hot writer, wipe, restore in place: acknowledged records are back', async () => {
  needSandbox(env);
  // The writer fills the scratch stores before and during the backup (each record in all three).
  const stop = new AbortController();
  let written = 0;
  const writer = runWriter({ stores, logFile: logFile(), intervalMs: 50, signal: stop.signal, onRecord: () => written++ });
  while (written < 40) await new Promise((r) => setTimeout(r, 100));
  // A table the writer leaves alone, written at consistency ALL before the cut: every replica agrees
  // on it, so its count at the cut is exact and a lost row is a verdict, not a range.
  for (let i = 0; i < 20; i++) {
    await cql.execute(`INSERT INTO ${KS}.graphindex (key, column1, value) VALUES (?, ?, ?)`, [Buffer.from(`fixed-${i}`), Buffer.from('c'), Buffer.from('v')], { prepare: true, consistency: types.consistencies.all });
  }
  const b = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--id', ID]);
  const atEnd = written;
  while (written < atEnd + 5) await new Promise((r) => setTimeout(r, 100));
  stop.abort();
  await writer;
  assert.is(b.code, 0, b.stderr);
  const manifest = JSON.parse(readFileSync(join(fleet.destDir, ID, 'manifest.json'), 'utf8'));
  const cut = Math.min(...manifest.nodes.flatMap((n: { commits: Record<string, { cutAt?: number }> }) => Object.values(n.commits).map((c) => c.cutAt ?? Infinity)));
  const records = readFileSync(logFile(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as WriterRecord);
  const acked = records.filter((r) => Math.max(Date.parse(r.cassandraAckAt), Date.parse(r.esAckAt), Date.parse(r.fileAckAt)) < cut);
  assert.ok(acked.length > 0, 'the writer acknowledged records before the cut');

  // Wipe all three stores.
  await cql.execute(`DROP KEYSPACE ${KS}`);
  await es('DELETE', `/${stores.index}`);
  rmSync(join(stores.filesDir, 'hw'), { recursive: true, force: true });

  const r = await runCli(['restore', ID, '--config', fleet.fleetFile, '--yes', '--drop-keyspace', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.ok, JSON.stringify(out.problems));
  // Each phase streams its progress from the agents while it runs.
  assert.match(r.stderr, /node2: cassandra fetch \d+\/\d+ files/);
  assert.match(r.stderr, /node1: files load \d+\/\d+ files/);
  for (const rec of acked) {
    const row = await cql.execute(`SELECT key FROM ${KS}.edgestore WHERE key = ?`, [Buffer.from(rec.id)], { prepare: true });
    assert.ok(row.rowLength > 0, `${rec.id} in Cassandra`);
    assert.is((await es('GET', `/${stores.index}/_doc/${rec.id}`)).status, 200, `${rec.id} in Elasticsearch`);
    assert.ok(existsSync(join(stores.filesDir, 'hw', rec.id)), `${rec.id} in the files folder`);
  }
  // Every node recorded its rows per table at the cut; the restored tables hold them.
  for (const n of manifest.nodes) for (const t of n.parts.cassandra.tables) assert.type(t.count?.rows, 'number', `${n.node} ${t.table} counted`);
  assertRowsAsAtCut(cassandraTables(out.results.verify.node1), KS);
});

/** The cassandra role's table rows in one node's verify reports (as the CLI prints them with --json). */
function cassandraTables(reports: PhaseReport[]): TableRows[] {
  const r = reports.find((x) => x.role === 'cassandra');
  assert.ok(r, 'a cassandra verify report');
  return r!.tables;
}

/**
 * Each restored table holds the rows recorded at the cut (exactly, unless the replicas disagreed then).
 * A table with nothing on disk at the cut (JanusGraph's lock tables stay empty) has no count and must
 * be empty after the restore.
 */
function assertRowsAsAtCut(tables: TableRows[], ks: string) {
  const names = tables.map((t) => t.table);
  assert.ok(names.includes(`${ks}.edgestore`), names.join(', '));
  for (const t of tables) {
    if (!t.counted) {
      assert.is(t.actual, 0, `${t.table} had no rows at the cut and has none after the restore`);
      continue;
    }
    if (t.exact) assert.is(t.actual, t.rows, t.table);
    else console.log(`  ${t.table}: replicas disagreed at the cut: ${t.actual} rows, ${t.rows}..${t.upTo} recorded`);
  }
  assert.ok(tables.find((t) => t.table === `${ks}.edgestore`)!.actual > 0);
}

test('a damaged set is refused before anything is dropped', async () => {
  needSandbox(env);
  const archive = join(fleet.destDir, ID, 'node2', 'cassandra', KS, 'edgestore.tbz');
  const good = readFileSync(archive);
  const bad = Buffer.from(good);
  bad[bad.length >> 1] ^= 0xff;
  writeFileSync(archive, bad);
  try {
    const r = await runCli(['restore', ID, '--config', fleet.fleetFile, '--yes', '--drop-keyspace']);
    assert.is(r.code, 1);
    assert.match(r.stderr, /damaged; nothing was changed/);
    assert.match(r.stderr, /edgestore\.tbz: sha256/);
    const ks = await cql.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [KS]);
    assert.is(ks.rowLength, 1, 'the keyspace was not dropped');
  } finally {
    writeFileSync(archive, good);
  }
});

test('unknown and incomplete sets get clear errors', async () => {
  needSandbox(env);
  const r = await runCli(['restore', 'no-such-set', '--config', fleet.fleetFile, '--yes']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no backup set no-such-set/);
  const m = join(fleet.destDir, ID, 'manifest.json');
  renameSync(m, `${m}.away`);
  try {
    const r2 = await runCli(['restore', ID, '--config', fleet.fleetFile, '--yes']);
    assert.is(r2.code, 1);
    assert.match(r2.stderr, /incomplete \(no manifest\)/);
  } finally {
    renameSync(`${m}.away`, m);
  }
});

test('sstableloader path into another keyspace, and a drill that tears itself down', async () => {
  needSandbox(env);
  const r = await runCli(['restore', ID, '--config', fleet.fleetFile, '--yes', '--sstableloader', '--target-keyspace', `${KS}_copy`, '--index-prefix', 'copy-', '--files-target', join(fleet.dir, 'files-copy'), '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.ok, JSON.stringify(out.problems));
  assertRowsAsAtCut(cassandraTables(out.results.verify.node1), `${KS}_copy`);

  // A row lost after loading is caught by the check against the cut's counts.
  const cassVerify = (out.results.verify.node1 as PhaseReport[]).find((r) => r.role === 'cassandra')!;
  const [exactTable] = cassVerify.tables.filter((t) => t.counted && t.exact && t.actual > 0).map((t) => t.table);
  assert.ok(exactTable, 'a table counted exactly at the cut');
  const victim = (await cql.execute(`SELECT key FROM ${exactTable} LIMIT 1`)).first().key;
  await cql.execute(`DELETE FROM ${exactTable} WHERE key = ?`, [victim], { prepare: true, consistency: types.consistencies.all });
  const [node1] = handles(fleet, ['node1']);
  try {
    const manifest = readFileSync(join(fleet.destDir, ID, 'manifest.json'));
    const v = await node1.restore(
      { restoreId: 'verify-only', backupId: ID, phase: RestorePhase.VERIFY, manifestSha256: manifestDigest(manifest), destination: toWireDestination({ type: 'local', path: fleet.destDir }),
        options: toWireRestoreOptions(parseRestoreOptions({ createSchema: true, targetKeyspace: `${KS}_copy`, skipRoles: ['elasticsearch', 'files'] })), setIdentities: [] },
      120_000,
    );
    const verdict = v.reports.find((r) => r.role === 'cassandra')!;
    assert.is(verdict.ok, false);
    assert.match(verdict.problems.join('\n'), new RegExp(`${exactTable}: \\d+ rows after the restore, \\d+ at the backup's cut`));
  } finally {
    node1.close();
  }
  await cql.execute(`DROP KEYSPACE ${KS}_copy`);
  const drillStart = Date.now();
  const d = await runCli(['drill', 'latest', '--config', fleet.fleetFile, '--scratch-dir', join(fleet.dir, 'drill'), '--json']);
  assert.is(d.code, 0, d.stderr);
  const drill = JSON.parse(d.stdout);
  assert.ok(drill.ok);
  assert.is(drill.id, ID, 'latest is the newest complete set');
  assert.type(drill.restoreMs, 'number');
  const gone = await cql.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [`${KS}_drill`]);
  assert.is(gone.rowLength, 0, 'the drill dropped its scratch keyspace');
  // DROP KEYSPACE makes every node snapshot the scratch copy (auto_snapshot): the drill clears them.
  for (const n of env.cassandra.nodes) {
    const left = (await snapshotTags(n)).filter((t) => t.keyspace === `${KS}_drill` && Number(t.tag.split('-')[1]) >= drillStart);
    assert.equal(left, [], `${n.name} keeps no snapshot of the drill's scratch keyspace`);
  }
});

test('an in-place restore over existing tables clears the truncated-* snapshots it caused once it verified', async () => {
  needSandbox(env);
  const since = Date.now();
  const r = await runCli(['restore', ID, '--config', fleet.fleetFile, '--yes', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).ok);
  assert.match(r.stderr, /TRUNCATE the restored tables if it exists \(Cassandra keeps the replaced data as truncated-\* snapshots/, 'the plan says what is kept');
  for (const n of env.cassandra.nodes) {
    const ours = (await snapshotTags(n)).filter((t) => t.keyspace === KS && /^truncated-(\d+)-/.test(t.tag) && Number(t.tag.split('-')[1]) >= since);
    assert.equal(ours, [], `${n.name}: the restore's truncated-* snapshots are cleared`);
  }
});

test('a restore killed during its load phase resumes with --restore-id and ends with the cut\'s rows', async () => {
  needSandbox(env);
  const args = ['restore', ID, '--config', fleet.fleetFile, '--yes', '--sstableloader', '--target-keyspace', `${KS}_resume`, '--index-prefix', 'resume-',
    '--files-target', join(fleet.dir, 'files-resume'), '--json', '--restore-id', `resume-${ID}`];
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  await new Promise<void>((resolve) => {
    const watch = (d: Buffer) => {
      said += d;
      if (/restore phase load/.test(said)) {
        child.kill('SIGKILL');
        resolve();
      }
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('close', () => resolve());
  });
  assert.match(said, /restore phase load/, said);
  // The agent sees the call cancelled and stops its loader; until then it answers "already running".
  let r = await runCli(args);
  for (let i = 0; i < 30 && /already running/.test(r.stdout + r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await runCli(args);
  }
  assert.is(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.ok, JSON.stringify(out.problems));
  assertRowsAsAtCut(cassandraTables(out.results.verify.node1), `${KS}_resume`);
  await cql.execute(`DROP KEYSPACE ${KS}_resume`);
});

test('verify confirms the Elasticsearch snapshot with the agent, and reports it gone', async () => {
  needSandbox(env);
  const ok = await runCli(['verify', ID, '--config', fleet.fleetFile, '--json']);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  assert.is((await es('DELETE', `/_snapshot/tandem-test/tandem-${ID}`)).status, 200);
  const r = await runCli(['verify', ID, '--config', fleet.fleetFile, '--json']);
  assert.is(r.code, 1);
  assert.match(JSON.parse(r.stdout).problems.join('\n'), /node1: snapshot tandem-test\/tandem-restore-e2e-\w+ is missing from the repository/);
});

test.run();
