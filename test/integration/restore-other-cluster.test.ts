/**
 * Restore onto another cluster: a backup of the sandbox's three-node cluster, restored with
 * sstableloader onto a second, one-node cluster (127.0.0.4, cluster name tandem-other) through
 * its own agent and fleet file. The saved replication (3 replicas) does not fit one node: the
 * restore is refused before anything changes, then runs with --replication.
 */
import { Client, types } from 'cassandra-driver';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cassandraRoleSettings, otherClusterNode, startOtherCluster, stopOtherCluster } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import type { PhaseReport } from '../../shared/generated/tandem/v2/agent';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';

const env = sandboxEnvOrNull();
const ID = `other-cluster-${Date.now().toString(36)}`;
let source: TestFleet;
let target: TestFleet;
let other: Client;
let main: Client;
/** uvu drops an error thrown by a before hook without a word: kept here and thrown by the test. */
let setupError: unknown;

test.before(async () => {
  if (!env) return; // nothing to set up: each test fails on needSandbox()
  try {
    await setUp(env);
  } catch (err) {
    setupError = err;
  }
});

async function setUp(env: NonNullable<ReturnType<typeof sandboxEnvOrNull>>): Promise<void> {
  await startOtherCluster((m) => console.log(`  ${m}`));
  other = new Client({ contactPoints: ['127.0.0.4'], localDataCenter: 'datacenter1' });
  await other.connect();
  await other.execute('DROP KEYSPACE IF EXISTS thehive'); // left by an interrupted run
  main = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await main.connect();
  source = await makeFleet(env.cassandra.nodes.map((n) => ({ node: n.name, roles: { cassandra: cassandraRoleSettings(env, n) } })), { prepareTimeoutMs: 120_000 });
  target = await makeFleet([{ node: 'other1', roles: { cassandra: cassandraRoleSettings(env, otherClusterNode()) } }], {
    destination: { type: 'local', path: source.destDir },
    // Another cluster's fleet file believes the source fleet's sets by listing its public key.
    trustedSigningKeys: [source.signing.pub],
  });
  await Promise.all([startFleet(source), startFleet(target)]);
}

test.after(async () => {
  if (!env) return; // nothing was set up
  await Promise.all([source && removeFleet(source), target && removeFleet(target)]);
  await other?.execute('DROP KEYSPACE IF EXISTS thehive').catch(() => undefined);
  await Promise.all([other?.shutdown(), main?.shutdown()]);
  await stopOtherCluster();
});

test('a three-node backup restored onto a one-node cluster with sstableloader', async () => {
  needSandbox(env);
  if (setupError) throw setupError;
  const b = await runCli(['backup', '--config', source.fleetFile, '--json', '--id', ID]);
  assert.is(b.code, 0, b.stderr);

  const plan = await runCli(['restore', ID, '--config', target.fleetFile, '--dry-run']);
  assert.is(plan.code, 0, plan.stderr);
  assert.match(plan.stdout + plan.stderr, /other1: fetch 27 table archives .* of node1, node2, node3, load with sstableloader/);

  const refused = await runCli(['restore', ID, '--config', target.fleetFile, '--yes', '--json']);
  assert.is(refused.code, 1);
  assert.match(refused.stdout + refused.stderr, /asks for 3 replicas in datacenter1, which has 1 nodes: restore with --replication datacenter1:1/);
  const none = await other.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = 'thehive'");
  assert.is(none.rowLength, 0, 'nothing was created on the other cluster');

  const r = await runCli(['restore', ID, '--config', target.fleetFile, '--yes', '--json', '--replication', 'datacenter1:1']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.ok, JSON.stringify(out.problems));
  const report = (phase: string) => (out.results[phase].other1 as PhaseReport[]).find((x) => x.role === 'cassandra')!;
  assert.match(report('load').detail, /with sstableloader/);
  const tables = report('verify').tables;
  assert.is(tables.length, 9);
  for (const t of tables) {
    assert.ok(t.counted, t.table);
    if (t.exact) assert.is(t.actual, t.rows, t.table);
  }
  const rep = await other.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'thehive'");
  assert.is(rep.first().replication.datacenter1, '1');
  // The same rows as the source cluster (no writer runs here, so nothing changed since the backup).
  const q = 'SELECT key, column1, value FROM thehive.system_properties';
  const [a, c] = await Promise.all([main.execute(q, [], { consistency: types.consistencies.all }), other.execute(q)]);
  const key = (x: { key: Buffer; column1: Buffer; value: Buffer }) => `${x.key.toString('hex')}/${x.column1.toString('hex')}=${x.value.toString('hex')}`;
  assert.equal(c.rows.map((x) => key(x as never)).sort(), a.rows.map((x) => key(x as never)).sort());
});

test.run();
