/** The saved schema, replayed under another keyspace name or another replication. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkReplicationFits, replicationOf, rewriteStatement, splitStatements, withReplication, replicationMap } from '../../agent/roles/cassandra/schema';
import { checkSchemaCql, splitCql } from '../../agent/roles/cassandra/schema-cql';
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

const OWN = { keyspace: 'thehive', tables: ['edgestore', 'graphindex', 'Mixed'] };

test('schema.cql: quotes, $$ strings and every comment style are respected; lines are counted', () => {
  const cql = `-- header; not a statement
/* a block;
   comment */ CREATE TABLE thehive.edgestore (k blob PRIMARY KEY) WITH comment = 'it''s; -- not a comment';
// another
CREATE TABLE "thehive"."Mixed" (k int PRIMARY KEY) /* inline; */ WITH comment = $$a;b$$;
`;
  const st = splitCql(cql);
  assert.equal(st.map((s) => s.line), [3, 5]);
  assert.match(st[0].text, /^CREATE TABLE thehive\.edgestore .*comment = 'it''s; -- not a comment'$/);
  assert.not.match(st[1].text, /inline/);
  assert.equal(checkSchemaCql(cql, OWN).length, 2);
  assert.equal(checkSchemaCql(DESCRIBED, { keyspace: 'thehive', tables: ['edgestore'] }).length, 2);
});

test('schema.cql: CREATE of the own keyspace, its listed tables, types, indexes and views pass', () => {
  const ok = [
    "CREATE KEYSPACE IF NOT EXISTS thehive WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'};",
    'CREATE TYPE thehive.addr (street text);',
    'CREATE INDEX by_v ON thehive.edgestore (value);',
    "CREATE CUSTOM INDEX IF NOT EXISTS sai ON thehive.graphindex (value) USING 'StorageAttachedIndex';",
    'CREATE INDEX ON thehive.edgestore (column1);',
    'CREATE MATERIALIZED VIEW thehive.v AS SELECT * FROM thehive.edgestore WHERE key IS NOT NULL PRIMARY KEY (key, column1);',
  ];
  for (const s of ok) assert.equal(checkSchemaCql(s, OWN).length, 1, s);
});

test('schema.cql: anything else is refused before a statement runs, naming its first words and line', () => {
  const refused: [string, RegExp][] = [
    ['CREATE TABLE thehive.edgestore (k int PRIMARY KEY);\nDROP KEYSPACE thehive;', /line 2: refusing "DROP KEYSPACE thehive": only CREATE statements/],
    ['ALTER TABLE thehive.edgestore ADD x int;', /line 1: refusing "ALTER TABLE thehive.edgestore ADD"/],
    ["INSERT INTO thehive.edgestore (k) VALUES (0x00);", /refusing "INSERT INTO/],
    ['USE system_auth;', /refusing "USE system_auth"/],
    ['BEGIN BATCH DELETE FROM thehive.edgestore WHERE k = 0x00; APPLY BATCH;', /refusing "BEGIN BATCH DELETE FROM"/],
    ["GRANT ALL ON ALL KEYSPACES TO evil;", /refusing "GRANT ALL/],
    ['CREATE TABLE system_auth.roles2 (k int PRIMARY KEY);', /it names keyspace system_auth/],
    ['CREATE TABLE edgestore (k int PRIMARY KEY);', /not named as thehive\.<name>/],
    ['CREATE TABLE thehive.planted (k int PRIMARY KEY);', /table planted is not one the backup set holds/],
    ["CREATE KEYSPACE other WITH replication = {'class': 'SimpleStrategy'};", /it creates keyspace other/],
    ['CREATE INDEX i ON other.t (v);', /it names keyspace other/],
    ["CREATE FUNCTION thehive.f (x int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS $$ return 0; $$;", /CREATE FUNCTION is not replayed/],
    ["CREATE TRIGGER t ON thehive.edgestore USING 'x.Y';", /CREATE TRIGGER is not replayed/],
    ['CREATE MATERIALIZED VIEW thehive.v AS SELECT * FROM other.t WHERE k IS NOT NULL PRIMARY KEY (k);', /it names keyspace other/],
    ['CREATE TABLE thehive.edgestore (k int PRIMARY KEY)', /line 1: statement "CREATE TABLE thehive.edgestore \(k" is not terminated by ";"/],
    ["CREATE TABLE thehive.edgestore (k int PRIMARY KEY) WITH comment = 'open;", /line 1: a string is not closed/],
    ['/* never closed; CREATE TABLE thehive.edgestore (k int PRIMARY KEY);', /a \/\* comment is not closed/],
  ];
  for (const [cql, msg] of refused) assert.throws(() => checkSchemaCql(cql, OWN, 'schema.cql'), msg, cql);
});

test.run();
