/**
 * The nodetool output parsers, table-driven, on output captured from the sandbox's Cassandra
 * 5.0.8 (test/unit/fixtures/nodetool/5.0.8-*.txt, as nodetool printed it; listsnapshots while a
 * backup's snapshot was on node2). States a healthy three-node cluster cannot show (a node down,
 * joining, a schema disagreement...) are copies of that real output edited in place below, each
 * edit named in its case.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSnapshotTags, parseStatus, type RingNode } from '../../agent/roles/cassandra/nodetool';

// Tests run from dist/test/unit; the fixtures stay beside the sources.
const FIXTURES = [join(__dirname, 'fixtures', 'nodetool'), join(__dirname, '..', '..', '..', 'test', 'unit', 'fixtures', 'nodetool')].find(existsSync)!;
const fixture = (name: string) => readFileSync(join(FIXTURES, `5.0.8-${name}.txt`), 'utf8');

/** Replaces `from` (which must be present) in real output: the edits behind the variants. */
function edit(text: string, from: string | RegExp, to: string): string {
  assert.ok(typeof from === 'string' ? text.includes(from) : from.test(text), `the fixture no longer holds ${from}`);
  return text.replace(from, to);
}

// A line a JVM prints on stdout before the tool's own output (HotSpot warnings go to stdout).
const JVM_WARNING = 'OpenJDK 64-Bit Server VM warning: Options -Xverify:none and -noverify were deprecated in JDK 13\n';

const status = fixture('status');
const N1 = { address: '127.0.0.1', datacenter: 'datacenter1', hostId: 'fec137df-779a-4f3c-a341-1b15517e5509' };
const N2 = { address: '127.0.0.2', datacenter: 'datacenter1', hostId: 'e18d235a-4cef-4104-ae48-58198c7d2620' };
const N3 = { address: '127.0.0.3', datacenter: 'datacenter1', hostId: '89217197-b2e3-4656-98c9-767b7835f8d6' };
const statusCases: [string, string, RingNode[]][] = [
  ['real: three nodes UN', status, [{ state: 'UN', ...N3 }, { state: 'UN', ...N2 }, { state: 'UN', ...N1 }]],
  ['edited: 127.0.0.3 down, its load unknown', edit(status, 'UN  127.0.0.3  114.4 KiB', 'DN  127.0.0.3  ?        '), [{ state: 'DN', ...N3 }, { state: 'UN', ...N2 }, { state: 'UN', ...N1 }]],
  ['edited: 127.0.0.2 joining', edit(status, 'UN  127.0.0.2', 'UJ  127.0.0.2'), [{ state: 'UN', ...N3 }, { state: 'UJ', ...N2 }, { state: 'UN', ...N1 }]],
  // Status "?" is printed for a node neither live nor unreachable (nodetool's Status command).
  ['edited: 127.0.0.1 neither up nor down (?N)', edit(status, 'UN  127.0.0.1', '?N  127.0.0.1'), [{ state: 'UN', ...N3 }, { state: 'UN', ...N2 }, { state: '?N', ...N1 }]],
  ['edited: a JVM warning first and the ownership note last', JVM_WARNING + status + "Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless\n", [{ state: 'UN', ...N3 }, { state: 'UN', ...N2 }, { state: 'UN', ...N1 }]],
  [
    'edited: the block repeated as a second datacenter dc2 with 127.0.0.3 only',
    status + edit(edit(status, /^UN {2}127\.0\.0\.[12] .*\n/gm, ''), 'Datacenter: datacenter1', 'Datacenter: dc2'),
    [{ state: 'UN', ...N3 }, { state: 'UN', ...N2 }, { state: 'UN', ...N1 }, { state: 'UN', ...N3, datacenter: 'dc2' }],
  ],
  ['no nodes in an empty output', '', []],
];
for (const [name, text, expected] of statusCases) {
  test(`status: ${name}`, () => assert.equal(parseStatus(text), expected));
}

const none = fixture('listsnapshots-none');
const listed = fixture('listsnapshots');
const TAG = 'tandem-rsync-mws9425h';
const TXLOG_ROW = `${TAG} thehive       txlog                   1.15 KiB  104.53 KiB   2026-11-22T19:50:22.388Z                \n`;
const snapshotCases: [string, string, { tag: string; keyspace: string }[]][] = [
  ['real: no snapshots', none, []],
  // Nine tables under one tag, then a blank line and "Total TrueDiskSpaceUsed: 0 bytes".
  ['real: one tag of nine tables of thehive', listed, [{ tag: TAG, keyspace: 'thehive' }]],
  [
    'edited: a second row for a dropped table snapshot in another keyspace',
    edit(listed, TXLOG_ROW, TXLOG_ROW + TXLOG_ROW.replace(`${TAG} thehive      `, 'dropped-1795376999-txlog thehive_copy')),
    [{ tag: TAG, keyspace: 'thehive' }, { tag: 'dropped-1795376999-txlog', keyspace: 'thehive_copy' }],
  ],
  ['edited: a JVM warning first', JVM_WARNING + none, []],
  ['edited: a JVM warning before a table', JVM_WARNING + listed, [{ tag: TAG, keyspace: 'thehive' }]],
];
for (const [name, text, expected] of snapshotCases) {
  test(`listsnapshots: ${name}`, () => assert.equal(parseSnapshotTags(text), expected));
}

test.run();
