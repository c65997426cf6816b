/** The saved schema, replayed under another keyspace name or another replication. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkReplicationFits, replicationOf, rewriteStatement, splitStatements, withReplication, replicationMap } from '../../agent/roles/cassandra/schema';
import { parseReplicationFlag } from '../../shared/wire/restore';

const DESCRIBED = `CREATE KEYSPACE thehive WITH replication = {'class': 'org.apache.cassandra.locator.NetworkTopologyStrategy', 'datacenter1': '3'}  AND durable_writes = true;

CREATE TABLE thehive.edgestore (
    key blob,
    column1 blob,
    value blob,
    PRIMARY KEY (key, column1)
) WITH CLUSTERING ORDER BY (column1 ASC)
    AND comment = 'a; b';
`;

test('DESCRIBE output splits into statements that replay idempotently under another name', () => {
  const [ks, table] = splitStatements(DESCRIBED);
  assert.match(rewriteStatement(ks, 'thehive', 'thehive_copy'), /^CREATE KEYSPACE IF NOT EXISTS thehive_copy WITH/);
  assert.match(rewriteStatement(table, 'thehive', 'thehive_copy'), /^CREATE TABLE IF NOT EXISTS thehive_copy\.edgestore \(/);
  assert.match(table, /comment = 'a; b'$/, 'a ";" inside a string does not split');
});

test('the replication is read from the statement, and replaced by the operator\'s', () => {
  const [ks] = splitStatements(DESCRIBED);
  assert.equal(replicationOf(ks), { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '3' });
  const rep = replicationMap(parseReplicationFlag('dc-a:1,dc_b:2'));
  assert.equal(rep, { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', 'dc-a': '1', dc_b: '2' });
  assert.equal(replicationOf(withReplication(ks, rep)), rep);
  assert.match(withReplication(ks, rep), /AND durable_writes = true$/);
  for (const bad of ['', 'dc1', 'dc1:x', "dc1:1,dc'2:1", 'dc1:100']) assert.throws(() => parseReplicationFlag(bad), /expected DC:RF/);
});

test('a replication asking more replicas than the target has nodes is refused with the fix', () => {
  const rf3 = { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', datacenter1: '3' };
  assert.not.throws(() => checkReplicationFits('thehive', rf3, { datacenter1: 3 }));
  assert.throws(() => checkReplicationFits('thehive', rf3, { datacenter1: 1 }), /asks for 3 replicas in datacenter1, which has 1 nodes: restore with --replication datacenter1:1/);
  assert.throws(() => checkReplicationFits('thehive', rf3, { dc2: 4 }), /3 replicas in datacenter1, which has 0 nodes: restore with --replication dc2:3/);
  assert.throws(() => checkReplicationFits('ks', { class: 'SimpleStrategy', replication_factor: '2' }, { dc: 1 }), /2 replicas, the cluster has 1 nodes/);
});

test.run();
