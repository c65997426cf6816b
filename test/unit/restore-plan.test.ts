/** The restore plan: who loads what, with which tool, and what the operator is told first. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planRestore } from '../../coordinator/restore/plan';
import type { AgentEntry } from '../../coordinator/config';
import { MANIFEST_FORMAT, manifestSchema } from '../../shared/manifest';

const ref = (path: string) => ({ path, size: 1, sha256: 'a'.repeat(64) });
const agent = (node: string, roles: AgentEntry['roles']): AgentEntry => ({ node, address: '127.0.0.1:1', roles });
const node = (name: string, parts: Record<string, unknown>) => ({ node: name, hostname: name, roles: Object.keys(parts), versions: {}, committedAt: 0, clockOffsetMs: 0, record: ref(`tandem-x/${name}/part.json`), commits: {}, parts });
const cass = (n: string) => ({ compression: 'bzip2', keyspaces: ['thehive'], tables: [], contents: ref(`tandem-x/${n}/cassandra/contents.json`), summary: '' });
const manifest = manifestSchema.parse({
  format: MANIFEST_FORMAT, id: 'tandem-x', tag: 'tandem-x', status: 'complete', tandemVersion: 't', startedAt: '', committedAt: '', completedAt: '', durationMs: 0, snapshotSpreadMs: null, options: {},
  nodes: [node('node1', { cassandra: cass('node1'), elasticsearch: { skipped: true, reason: 'x', summary: '' } }), node('node2', { cassandra: cass('node2') }), node('node3', { cassandra: cass('node3') })],
  parent: null, files: [], references: [], listed: { files: 0, bytes: 0 }, bytes: 0,
});

test('same node names: every node imports its own SSTables; one recreates the schema', () => {
  const p = planRestore(manifest, [agent('node1', ['cassandra', 'elasticsearch']), agent('node2', ['cassandra']), agent('node3', ['cassandra'])], {});
  assert.ok(p.sameTopology);
  assert.equal(p.steps.map((s) => [s.node, s.options.cassandraLoad, s.options.cassandraSources, s.options.createSchema]), [
    ['node1', 'import', ['node1'], true],
    ['node2', 'import', ['node2'], false],
    ['node3', 'import', ['node3'], false],
  ]);
  assert.match(p.lines.join('\n'), /not backed up \(--skip-index\).*--rebuild-index/);
});

test('another cluster with another node count: one agent streams every node\'s SSTables with sstableloader', () => {
  const p = planRestore(manifest, [agent('b1', ['cassandra', 'elasticsearch'])], { targetKeyspace: 'thehive' });
  assert.not.ok(p.sameTopology);
  assert.equal([p.steps[0].options.cassandraLoad, p.steps[0].options.cassandraSources], ['sstableloader', ['node1', 'node2', 'node3']]);
});

test('--rebuild-index goes to the elasticsearch agent, and needs one', () => {
  const p = planRestore(manifest, [agent('node1', ['cassandra', 'elasticsearch'])], { rebuildIndex: true });
  assert.is(p.steps[0].options.rebuildIndex, true);
  assert.match(p.lines.join('\n'), /forceDropAndRebuildIndex = true/);
  assert.throws(() => planRestore(manifest, [agent('node1', ['cassandra'])], { rebuildIndex: true }), /no agent of the fleet has the elasticsearch role/);
});

test('a flag the agents would refuse is refused while planning, naming the field', () => {
  const all = [agent('node1', ['cassandra', 'elasticsearch', 'files'])];
  assert.throws(() => planRestore(manifest, all, { indexPrefix: '_hidden' }), /indexPrefix: must be lowercase/);
  assert.throws(() => planRestore(manifest, all, { filesTarget: 'relative/dir' }), /filesTarget: must be an absolute/);
  assert.throws(() => planRestore(manifest, all, { replication: 'dc1:x' }), /expected DC:RF/);
});

const withFiles = (store: 'localfs' | 's3') => manifestSchema.parse({
  ...manifest,
  nodes: [node('node1', { cassandra: cass('node1'), files: { store, location: store === 's3' ? 'thehive' : '/opt/thp/thehive/files', fileCount: 2, bytes: 10, deviations: { changed: 0, missing: 0, unstorable: 0, examples: [] }, summary: '', listing: ref('tandem-x/node1/files/listing.ndjson') } })],
});

test('a bucket set: a drill or a restore elsewhere needs a scratch bucket, never TheHive\'s; a folder set takes no bucket', () => {
  const all = [agent('node1', ['cassandra', 'files'])];
  const bucket = withFiles('s3');
  assert.throws(() => planRestore(bucket, all, { filesTarget: '/var/tmp/x', dropScratch: true }), /a drill needs a scratch bucket/);
  assert.throws(() => planRestore(bucket, all, { filesTarget: '/var/tmp/x' }), /--files-target needs a scratch bucket \(--files-bucket NAME\)/);
  assert.throws(() => planRestore(bucket, all, { filesClean: true }), /removes none/);
  const drill = planRestore(bucket, all, { filesTarget: '/var/tmp/x', filesBucket: 'drill-1', dropScratch: true });
  assert.is(drill.steps[0].options.filesBucket, 'drill-1');
  assert.match(drill.lines.join('\n'), /put 2 objects .* into bucket drill-1 \(created, dropped after\)/);
  assert.match(planRestore(bucket, all, {}).lines.join('\n'), /into TheHive's bucket/);
  assert.throws(() => planRestore(bucket, all, { filesBucket: 'Not_A_Bucket' }), /filesBucket/);
  assert.throws(() => planRestore(withFiles('localfs'), all, { filesBucket: 'drill-1' }), /the files of this set are a folder/);
});

test.run();
