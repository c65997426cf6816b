/** What a set archives of a table, given the parent's record (agent/roles/cassandra/incremental.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { componentOf, groupSstables, planTable, tableContents, type SnapshotFile } from '../../agent/roles/cassandra/incremental';
import type { TableContents } from '../../shared/parts/cassandra';

const hex = (c: string) => c.repeat(64);
const LIMITS = { maxChain: 7, maxRemovedPercent: 50 };
const PARENT = 'tandem-20261101t000000z-aaaaaa';
const NOW = 'tandem-20261102t000000z-bbbbbb';

/** The files of one SSTable as a snapshot holds them. */
const sstable = (name: string, dataSize: number, mtimeMs = 1000): SnapshotFile[] =>
  ['Data.db', 'Index.db', 'Statistics.db', 'Summary.db', 'Digest.crc32', 'TOC.txt'].map((c) => ({ rel: `${name}-${c}`, size: c === 'Data.db' ? dataSize : 10, mtimeMs }));
const snapshot = (...tables: SnapshotFile[][]) => [{ rel: 'manifest.json', size: 5, mtimeMs: 1 }, { rel: 'schema.cql', size: 5, mtimeMs: 1 }, ...tables.flat()];

/** The parent's record of a table whose SSTables are `names` (all in one archive of `archiveBytes`). */
function parentRecord(ssts: { name: string; dataSize: number; digest?: string; set?: string; archive?: string }[], archives?: TableContents['archives']): TableContents {
  const archive = `${PARENT}/node1/cassandra/thehive/edgestore.tbz`;
  return {
    files: [],
    sstables: ssts.map((s) => ({
      name: s.name, dataSize: s.dataSize, dataMtimeMs: 1000, digest: s.digest ?? '42', dataSha256: hex('d'), set: s.set ?? PARENT, archive: s.archive ?? archive,
      components: ['Data.db', 'Index.db', 'Digest.crc32', 'TOC.txt'].map((c) => ({ path: `${s.name}-${c}`, size: c === 'Data.db' ? s.dataSize : 10, sha256: hex('e') })),
    })),
    archives: archives ?? [{ path: archive, size: 500, sha256: hex('a'), set: PARENT, bytesIn: ssts.reduce((n, s) => n + s.dataSize + 50, 0) }],
  };
}
const digests = (...names: string[]) => new Map(names.map((n) => [n, '42']));

test('an SSTable component is told apart from the snapshot files, secondary index folders included', () => {
  assert.equal(componentOf('nb-12-big-Data.db'), { sstable: 'nb-12-big', component: 'Data.db' });
  assert.equal(componentOf('.edgestore_idx/nb-1-big-Index.db'), { sstable: '.edgestore_idx/nb-1-big', component: 'Index.db' });
  assert.equal(componentOf('da-3gqz_0tvt_2h0l42q6ybpd4szhtx-bti-Partitions.db')?.component, 'Partitions.db');
  assert.is(componentOf('manifest.json'), null);
  assert.is(componentOf('../nb-1-big-Data.db'), null);
});

test('without a parent record every file is archived', () => {
  const files = snapshot(sstable('nb-1-big', 1000));
  const plan = planTable(groupSstables(files, digests('nb-1-big')), undefined, LIMITS);
  assert.is(plan.include.size, files.length);
  assert.is(plan.reused.length, 0);
  assert.is(plan.fullReason, '');
});

test('an SSTable the parent holds is not archived again, but its Statistics and Summary are', () => {
  const files = snapshot(sstable('nb-1-big', 1000), sstable('nb-2-big', 30));
  const plan = planTable(groupSstables(files, digests('nb-1-big', 'nb-2-big')), parentRecord([{ name: 'nb-1-big', dataSize: 1000 }]), LIMITS);
  assert.equal(plan.reused.map((r) => r.name), ['nb-1-big']);
  assert.equal([...plan.include].sort(), [
    'manifest.json', 'nb-1-big-Statistics.db', 'nb-1-big-Summary.db',
    ...sstable('nb-2-big', 30).map((f) => f.rel), 'schema.cql',
  ].sort());
  assert.is(plan.earlier.length, 1);
});

test('a name reused after TRUNCATE (another CRC, size or mtime) is archived again', () => {
  const files = snapshot(sstable('nb-1-big', 1000));
  for (const [parent, why] of [
    [parentRecord([{ name: 'nb-1-big', dataSize: 1000, digest: '7' }]), 'CRC'],
    [parentRecord([{ name: 'nb-1-big', dataSize: 999 }]), 'size'],
  ] as const) {
    const plan = planTable(groupSstables(files, digests('nb-1-big')), parent, LIMITS);
    assert.is(plan.reused.length, 0, why);
    assert.is(plan.include.size, files.length, why);
  }
  const later = snapshot(sstable('nb-1-big', 1000, 2000));
  assert.is(planTable(groupSstables(later, digests('nb-1-big')), parentRecord([{ name: 'nb-1-big', dataSize: 1000 }]), LIMITS).reused.length, 0, 'mtime');
});

test('a chain longer than max_chain makes the table full again', () => {
  const names = ['nb-1-big', 'nb-2-big', 'nb-3-big'];
  const archives = names.map((n, i) => ({ path: `tandem-2026110${i}t000000z-cccccc/node1/cassandra/thehive/edgestore.tbz`, size: 9, sha256: hex('a'), set: `tandem-2026110${i}t000000z-cccccc`, bytesIn: 1050 }));
  const parent = parentRecord(names.map((name, i) => ({ name, dataSize: 1000, set: archives[i].set, archive: archives[i].path })), archives);
  const files = snapshot(...names.map((n) => sstable(n, 1000)));
  const plan = planTable(groupSstables(files, digests(...names)), parent, { ...LIMITS, maxChain: 2 });
  assert.match(plan.fullReason, /chain would read 3 earlier archives \(max_chain 2\)/);
  assert.is(plan.include.size, files.length);
  assert.is(planTable(groupSstables(files, digests(...names)), parent, LIMITS).earlier.length, 3);
});

test('an earlier archive mostly compacted away makes the table full again', () => {
  // The parent's archive held 10 000 bytes; only nb-1-big (about 1 000) is still live.
  const parent = parentRecord([{ name: 'nb-1-big', dataSize: 1000 }], [{ path: `${PARENT}/node1/cassandra/thehive/edgestore.tbz`, size: 9, sha256: hex('a'), set: PARENT, bytesIn: 10_000 }]);
  const files = snapshot(sstable('nb-1-big', 1000), sstable('nb-9-big', 9000));
  const plan = planTable(groupSstables(files, digests('nb-1-big', 'nb-9-big')), parent, LIMITS);
  assert.match(plan.fullReason, /90% of the bytes in its earlier archives were compacted away \(max_removed_percent 50\)/);
  assert.is(planTable(groupSstables(files, digests('nb-1-big', 'nb-9-big')), parent, { ...LIMITS, maxRemovedPercent: 95 }).fullReason, '');
});

test("the table's record names this set's archive first, then the earlier ones, and each SSTable's archive", () => {
  const files = snapshot(sstable('nb-1-big', 1000), sstable('nb-2-big', 30));
  const found = groupSstables(files, digests('nb-1-big', 'nb-2-big'));
  const plan = planTable(found, parentRecord([{ name: 'nb-1-big', dataSize: 1000 }]), LIMITS);
  const own = `${NOW}/node1/cassandra/thehive/edgestore.tbz`;
  const archived = files.filter((f) => plan.include.has(f.rel)).map((f) => ({ path: f.rel, size: f.size, sha256: hex('f') }));
  const c = tableContents(found, plan, { path: own, size: 77, sha256: hex('b'), set: NOW, bytesIn: 123, files: archived });
  assert.equal(c.archives.map((a) => a.set), [NOW, PARENT]);
  assert.equal(c.sstables.map((s) => [s.name, s.set]), [['nb-2-big', NOW], ['nb-1-big', PARENT]]);
  assert.equal(c.sstables[0].components.map((x) => x.path), ['nb-2-big-Data.db', 'nb-2-big-Index.db', 'nb-2-big-Digest.crc32', 'nb-2-big-TOC.txt']);
  assert.is(c.files, archived);
});

test.run();
