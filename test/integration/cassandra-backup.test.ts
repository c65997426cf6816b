/**
 * Coordinated Cassandra backups end to end on the sandbox's real three-node cluster, with the
 * hot writer running: real agents, the real CLI, real nodetool, real archives read by real tar.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand } from '../../shared/exec';
import { sha256File } from '../../agent/archive';
import { cassandraRoleSettings, startWriter, stopWriter } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet, stopAgent, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { removeScratch, scratchDir } from '../helpers/scratch';

const env = sandboxEnvOrNull();
let fleet: TestFleet;

function cassandraRoles(override: (i: number) => Record<string, unknown> = () => ({})) {
  return env!.cassandra.nodes.map((n, i) => ({
    node: n.name,
    roles: { cassandra: { ...cassandraRoleSettings(env!, n), ...override(i) } },
  }));
}

async function snapshotTags(): Promise<string[]> {
  const out: string[] = [];
  for (const n of env!.cassandra.nodes) {
    const text = (await runCommand([n.nodetool, 'listsnapshots'])).stdout;
    out.push(...text.split('\n').filter((l) => /^tandem-/.test(l)).map((l) => `${n.name}:${l.split(/\s+/)[0]}`));
  }
  return [...new Set(out)];
}

test.before(async () => {
  if (!env) return; // nothing to set up: each test fails on needSandbox()
  fleet = await makeFleet(cassandraRoles(), { prepareTimeoutMs: 120_000 });
  await startFleet(fleet);
  await startWriter();
});
test.after(async () => {
  if (!env) return; // nothing was set up
  await stopWriter();
  await removeFleet(fleet);
});

test('complete backup under the hot writer; archives read by plain tar equal the snapshot files', async () => {
  needSandbox(env);
  const r = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--id', 'cass-e2e', '--option', 'keep_snapshot=true']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.status, 'complete');
  assert.type(out.snapshotSpreadMs, 'number');
  const manifest = JSON.parse(readFileSync(join(fleet.destDir, 'cass-e2e', 'manifest.json'), 'utf8'));
  assert.is(manifest.nodes.length, 3);
  for (const node of manifest.nodes) {
    const part = node.parts.cassandra;
    assert.is(part.tables.length, 9, `${node.node}: the nine JanusGraph tables`);
    const dataDir = env.cassandra.nodes.find((n) => n.name === node.node)!.dataDir;
    for (const t of part.tables) {
      const archive = join(fleet.destDir, t.path);
      assert.is(await sha256File(archive), t.sha256, `${t.path} checksum`);
      const into = await scratchDir('tar');
      await runCommand(['tar', 'xjf', archive, '-C', into]);
      const snapDir = join(dataDir, 'thehive', t.tableDir, 'snapshots', 'tandem-cass-e2e');
      const expected = readdirSync(snapDir).sort();
      assert.equal(readdirSync(into).sort(), expected, `${t.path} lists the snapshot folder`);
      for (const f of expected) assert.is(await sha256File(join(into, f)), await sha256File(join(snapDir, f)), `${t.path}: ${f} byte for byte`);
      removeScratch(into);
    }
    assert.ok(existsSync(join(fleet.destDir, 'cass-e2e', node.node, 'cassandra', 'thehive', 'schema.cql')));
  }
  for (const n of env.cassandra.nodes) await runCommand([n.nodetool, 'clearsnapshot', '-t', 'tandem-cass-e2e', '--', 'thehive']);
  assert.equal(await snapshotTags(), []);
});

test("the backup's timeline: the snapshot call around the cut, one archive per table with its bytes; tandem report draws it", async () => {
  needSandbox(env);
  const manifest = JSON.parse(readFileSync(join(fleet.destDir, 'cass-e2e', 'manifest.json'), 'utf8'));
  for (const node of manifest.nodes) {
    const spans = node.timeline as { phase: string; role?: string; table?: string; startedAt: number; endedAt: number; bytesIn?: number; bytesOut?: number }[];
    const snapshot = spans.find((s) => s.phase === 'snapshot' && s.role === 'cassandra')!;
    const commit = node.commits.cassandra;
    assert.equal([snapshot.startedAt, snapshot.endedAt], [commit.requestedAt, commit.returnedAt], `${node.node}: the JMX call's instants`);
    const archives = spans.filter((s) => s.phase === 'archive');
    assert.equal(
      archives.map((s) => [s.table, s.bytesIn, s.bytesOut]).sort(),
      node.parts.cassandra.tables.map((t: { keyspace: string; table: string; bytesIn: number; size: number }) => [`${t.keyspace}.${t.table}`, t.bytesIn, t.size]).sort(),
      `${node.node}: one archive span per table`,
    );
    assert.ok(spans.some((s) => s.phase === 'count'), `${node.node}: the row count`);
    assert.equal(spans.map((s) => s.phase).filter((p) => ['prepare', 'commit', 'ship', 'finish'].includes(p)), ['prepare', 'commit', 'ship', 'finish']);
  }
  const html = join(fleet.dir, 'cass-e2e.html');
  const r = await runCli(['report', 'cass-e2e', '--config', fleet.fleetFile, '--html', html]);
  assert.is(r.code, 0, r.stderr);
  const page = readFileSync(html, 'utf8');
  assert.match(page, 'the cut, zoomed');
  assert.match(page, 'thehive.edgestore');
});

test('a normal backup leaves no snapshot on any node', async () => {
  needSandbox(env);
  const r = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--compression', 'xz']);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).status, 'complete');
  assert.equal(await snapshotTags(), [], 'listsnapshots is empty');
});

/** Backs up with a fleet where one node must vote no; checks the abort and that nothing is left. */
async function expectAbort(specs: ReturnType<typeof cassandraRoles>, reason: RegExp): Promise<void> {
  const bad = await makeFleet(specs, { prepareTimeoutMs: 120_000 });
  await startFleet(bad);
  try {
    const r = await runCli(['backup', '--config', bad.fleetFile, '--json']);
    assert.is(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.is(out.status, 'aborted');
    assert.match(out.reason, reason);
    assert.equal(await snapshotTags(), []);
    assert.equal(readdirSync(bad.destDir), []);
  } finally {
    await removeFleet(bad);
  }
}

test('one node failing its preflight: aborted, nothing snapshotted anywhere', async () => {
  needSandbox(env);
  // A JMX port nothing listens on: the helper JVM cannot reach the node, so the ring cannot be read.
  await expectAbort(cassandraRoles((i) => (i === 2 ? { jmx: { host: '127.0.0.1', port: 7999 } } : {})), /node3 votes no: .*JMX at 127\.0\.0\.1:7999/);
});

test('a keyspace whose replication leaves nodes without all data: every node votes no, naming allow_low_rf', async () => {
  needSandbox(env);
  // RF 1 on three nodes: no node's snapshot holds the whole keyspace, so a set of them is not a backup
  // of it unless the operator says otherwise. A scratch keyspace: the sandbox's own stays as it is.
  const ks = `rf1_${Date.now().toString(36)}`;
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
  try {
    await cql.execute(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}`);
    await expectAbort(cassandraRoles(() => ({ keyspace: ks })), new RegExp(`votes no: .*keyspace ${ks} has replication \\{"datacenter1":1\\} for \\{"datacenter1":3\\} nodes.*allow_low_rf=true`));
  } finally {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await cql.shutdown();
  }
});

test('a data folder without room for the flush and the staging: that node votes no, naming what is free and needed', async () => {
  needSandbox(env);
  // node3's data folder seen on a 1 MiB tmpfs (mounted as root): the snapshot would still run
  // over JMX, but the check reads the free space where the node keeps its data.
  const mnt = await scratchDir('small-data');
  await runCommand(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { timeoutMs: 10_000 });
  try {
    await expectAbort(cassandraRoles((i) => (i === 2 ? { dataDir: mnt } : {})), /node3 votes no: .*\d+(\.\d+)? [KM]i?B free in .*small-data.*, 64(\.0)? Mi?B needed/);
  } finally {
    await runCommand(['umount', mnt], { timeoutMs: 10_000 });
    removeScratch(mnt);
  }
});

test('Elasticsearch down: Prepare votes no, nothing is snapshotted anywhere', async () => {
  needSandbox(env);
  const specs = cassandraRoles();
  specs[0].roles = { ...specs[0].roles, elasticsearch: { url: 'http://127.0.0.1:9299', requestTimeoutMs: 3000 } } as typeof specs[0]['roles'];
  await expectAbort(specs, /node1 votes no: elasticsearch: .*127\.0\.0\.1:9299/);
});

test('one agent down: aborted within the deadline, nothing left behind', async () => {
  needSandbox(env);
  await stopAgent(fleet.agents[1]);
  const r = await runCli(['backup', '--config', fleet.fleetFile, '--json']);
  assert.is(r.code, 1);
  assert.match(JSON.parse(r.stdout).reason, /node2 unreachable/);
  assert.equal(await snapshotTags(), []);
});

test.run();
