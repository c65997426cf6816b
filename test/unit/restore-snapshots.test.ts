import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { snapshotsCausedSince } from '../../agent/roles/cassandra/restore-snapshots';

const tags = [
  { tag: 'truncated-1763850000000-edgestore', keyspace: 'thehive' },
  { tag: 'truncated-1763840000000-edgestore', keyspace: 'thehive' },
  { tag: 'dropped-1763850000500-graphindex', keyspace: 'thehive_drill' },
  { tag: 'dropped-1763850000500-graphindex', keyspace: 'other' },
  { tag: 'tandem-x', keyspace: 'thehive' },
  { tag: 'nightly-1763850000000-edgestore', keyspace: 'thehive' },
  { tag: 'truncated-1763850000000-../x', keyspace: 'thehive' },
];

test('only TRUNCATE/DROP snapshots of the restored keyspaces, taken since the restore started, are ours', () => {
  const ours = snapshotsCausedSince(tags, new Set(['thehive', 'thehive_drill']), 1763849999000, 1763850001000);
  assert.equal(ours.map((t) => `${t.keyspace}/${t.tag}`), ['thehive/truncated-1763850000000-edgestore', 'thehive_drill/dropped-1763850000500-graphindex']);
});

test('nothing before the restore started, nothing after now', () => {
  assert.equal(snapshotsCausedSince(tags, new Set(['thehive']), 1763850000001, 1763860000000), []);
  assert.equal(snapshotsCausedSince(tags, new Set(['thehive']), 0, 1763830000000), []);
});

test.run();
