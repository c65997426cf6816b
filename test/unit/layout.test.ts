/**
 * The layout of a set at the destination (shared/destination/layout.ts): every path is spelled
 * as the sets already at destinations have it, and a piece that does not hold (an id that is no
 * backup id, a node name with a slash, a keyspace with a dot, an unknown role) is refused before
 * any path is built from it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as layout from '../../shared/destination/layout';

const ID = 'tandem-20261121t233400z-1a2b3c';

test('the paths of a set are the ones every set at a destination has', () => {
  assert.is(layout.setPrefix(ID), `${ID}/`);
  assert.is(layout.manifestPath(ID), `${ID}/manifest.json`);
  assert.is(layout.manifestSignaturePath(ID), `${ID}/manifest.sig`);
  assert.is(layout.prunedMarkerPath(ID), `${ID}/pruned.json`);
  assert.is(layout.prunedSignaturePath(ID), `${ID}/pruned.sig`);
  assert.is(layout.setKeyPath(ID), `${ID}/set-key.age`);
  assert.is(layout.setKeyInfoPath(ID), `${ID}/set-key.json`);
  assert.is(layout.nodePartPath(ID, 'node1'), `${ID}/node1/part.json`);
  assert.is(layout.nodePrefix(ID, 'db-1.example'), `${ID}/db-1.example/`);
  assert.is(layout.cassandraContentsPath(ID, 'node1'), `${ID}/node1/cassandra/contents.json`);
  assert.is(layout.ringPath(ID, 'node1'), `${ID}/node1/cassandra/ring.json`);
  assert.is(layout.schemaCqlPath(ID, 'node1', 'thehive'), `${ID}/node1/cassandra/thehive/schema.cql`);
  assert.is(layout.tableArchivePath(ID, 'node1', 'thehive', 'table_a', 'tbz'), `${ID}/node1/cassandra/thehive/table_a.tbz`);
  assert.is(layout.tableArchivePath(ID, 'node1', 'thehive', 'table_a', 'tbz.age'), `${ID}/node1/cassandra/thehive/table_a.tbz.age`);
  assert.is(layout.snapshotRecordPath(ID, 'node1'), `${ID}/node1/elasticsearch/snapshot.json`);
  assert.is(layout.stagedIndexFilePath(ID, 'node1', 'indices/Xb3k_q-1/0/__aZ9-_x'), `${ID}/node1/elasticsearch/repository/indices/Xb3k_q-1/0/__aZ9-_x`);
  assert.is(layout.stagedIndexFilePath(ID, 'node1', 'index.latest'), `${ID}/node1/elasticsearch/repository/index.latest`);
  assert.is(layout.filesListingPath(ID, 'node1'), `${ID}/node1/files/listing.ndjson`);
  assert.is(layout.attachmentFilePath(ID, 'node1', 'localfs', 'ab/cd/x'), `${ID}/node1/files/data/ab/cd/x`);
  assert.is(layout.attachmentFilePath(ID, 'node1', 's3', 'k/1'), `${ID}/node1/files/s3/k/1`);
  assert.is(layout.roleFolder(ID, 'node1', 'rehearsal'), `${ID}/node1/rehearsal`);
  assert.is(layout.DESTINATION_LOCK_FILE, 'tandem-lock.json');
  assert.is(layout.setOfPath(layout.nodePartPath(ID, 'node1')), ID);
});

test('a piece that does not hold is refused before a path is built of it', () => {
  assert.throws(() => layout.manifestPath('../etc'), /invalid backup id/);
  assert.throws(() => layout.setPrefix('Tandem'), /invalid backup id/);
  assert.throws(() => layout.nodePartPath(ID, 'node1/../node2'), /invalid node name/);
  assert.throws(() => layout.schemaCqlPath(ID, 'node1', 'the.hive'), /invalid keyspace/);
  assert.throws(() => layout.tableArchivePath(ID, 'node1', 'thehive', 'a/b', 'tbz'), /invalid table/);
  assert.throws(() => layout.tableArchivePath(ID, 'node1', 'thehive', 'a', '/tbz'), /invalid archive extension/);
  assert.throws(() => layout.roleFolder(ID, 'node1', 'tar' as layout.SetRole), /invalid role/);
  assert.throws(() => layout.setFile(ID, 'a/b'), /one segment/);
  assert.throws(() => layout.setFile(ID, '.hidden'), /unsafe destination path/);
  assert.throws(() => layout.attachmentFilePath(ID, 'node1', 'localfs', 'a/../b'), /unsafe destination path/);
  for (const blob of ['../x', 'indices/../../x', '.hidden', 'a//b', '/abs', 'a/b/c/d/e/f/g', 'a b', 'a\nb', '']) {
    assert.throws(() => layout.stagedIndexFilePath(ID, 'node1', blob), /invalid snapshot repository file/, blob);
  }
});

test('an attachment name that cannot be stored is named, not thrown', () => {
  assert.is(layout.attachmentProblem(ID, 'node1', 'localfs', 'ab/cd/x'), null);
  assert.match(layout.attachmentProblem(ID, 'node1', 'localfs', 'a b') ?? '', /not allowed/);
  assert.match(layout.attachmentProblem(ID, 'node1', 's3', 'k//1') ?? '', /empty segment/);
});

test.run();
