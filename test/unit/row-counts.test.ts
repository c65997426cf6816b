/** Row counts recorded at the cut, and what a restored table must hold according to them. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectedRows, rowCountProblem } from '../../agent/roles/cassandra/expected-rows';
import { murmur3Tokens, parseCountLine, type TableRowCount } from '../../agent/roles/cassandra/row-count';

const count = (ranges: Record<string, number> | null, datacenter = 'dc1'): TableRowCount => ({
  rows: ranges ? Object.values(ranges).reduce((a, b) => a + b, 0) : 0,
  partitions: 0,
  ranges,
  datacenter,
  at: 1,
});

test('the row counter\'s lines are parsed, and its errors surface', () => {
  const c = parseCountLine('ROWS 1936 579 -9223372036854775808=629,-3074457345618258603=688,3074457345618258602=619', 'dc1', 7);
  assert.equal(c, { rows: 1936, partitions: 579, ranges: { '-9223372036854775808': 629, '-3074457345618258603': 688, '3074457345618258602': 619 }, datacenter: 'dc1', at: 7 });
  assert.equal(parseCountLine('ROWS 0 0 -', 'dc1', 7).ranges, null);
  assert.throws(() => parseCountLine('ERROR java.io.IOException: Corrupt', 'dc1', 7), /row counter: java.io.IOException: Corrupt/);
  assert.throws(() => parseCountLine('INFO something', 'dc1', 7), /unexpected output/);
});

test('only 64-bit tokens (Murmur3) make ranges', () => {
  assert.equal(murmur3Tokens(['-9223372036854775808', '0', '9223372036854775807', '0']), ['-9223372036854775808', '0', '9223372036854775807']);
  assert.is(murmur3Tokens(['9223372036854775808']), null, 'beyond int64: RandomPartitioner');
  assert.is(murmur3Tokens(['abc']), null, 'ByteOrderedPartitioner');
  assert.is(murmur3Tokens([]), null);
});

test('replicas that agree give an exact count, summed over the ring\'s ranges', () => {
  // RF 2 on three nodes: every range is held by two of them.
  const e = expectedRows([count({ a: 10, b: 5 }), count({ b: 5, c: 7 }), count({ c: 7, a: 10 })]);
  assert.equal(e, { rows: 22, upTo: 22, exact: true, disagreeingRanges: 0 });
  assert.is(rowCountProblem('ks.t', 22, e), null);
  assert.match(rowCountProblem('ks.t', 21, e)!, /ks\.t: 21 rows after the restore, 22 at the backup's cut/);
});

test('an empty range disagrees only where the node is sure to replicate it', () => {
  const all = (ranges: Record<string, number>) => ({ ...count(ranges), replicatesAll: true });
  // RF = nodes: node3 holds nothing of range b, the others 4 rows: not exact.
  assert.equal(expectedRows([all({ a: 3, b: 4 }), all({ a: 3, b: 4 }), all({ a: 3, b: 0 })]), { rows: 3, upTo: 7, exact: false, disagreeingRanges: 1 });
  // RF < nodes: an empty range is a range the node does not replicate.
  assert.equal(expectedRows([count({ a: 3, b: 0 }), count({ a: 3, b: 4 }), count({ b: 4 })]), { rows: 7, upTo: 7, exact: true, disagreeingRanges: 0 });
});

test('replicas that disagree give bounds, and no verdict', () => {
  const e = expectedRows([count({ a: 10 }), count({ a: 11 }), count({ a: 10 })]);
  assert.equal(e, { rows: 10, upTo: 11, exact: false, disagreeingRanges: 1 });
  assert.is(rowCountProblem('ks.t', 12, e), null);
});

test('two datacenters are each a whole copy; a node without ranges gives no expectation', () => {
  const e = expectedRows([count({ a: 3, b: 4 }, 'dc1'), count({ x: 7 }, 'dc2')]);
  assert.equal(e, { rows: 7, upTo: 7, exact: true, disagreeingRanges: 0 });
  assert.is(expectedRows([count({ a: 1 }), count(null)]), null);
  assert.is(expectedRows([]), null);
  assert.is(rowCountProblem('ks.t', 5, null), null);
});

test.run();
