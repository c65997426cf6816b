/** The pure rules of the commitlog capture: cdc_raw's names, _cdc.idx files, what one look calls for, and the capture's paths. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emptyProgress, type Progress } from '../../agent/roles/cassandra/capture/progress';
import { planCapture, splitRange } from '../../agent/roles/cassandra/capture/plan';
import type { ObservedSegment, Scan } from '../../agent/roles/cassandra/capture/scan';
import { indexNameOf, parseCdcIndex, parseSegmentName, segmentOfIndex } from '../../agent/roles/cassandra/capture/segment';
import { CAPTURE_ROOT, captureGapsPath, captureIndexPath, capturePiecePath, parsePieceName } from '../../shared/destination/layout';
import { BACKUP_ID } from '../../shared/names';

const seg = (id: number, o: Partial<ObservedSegment> = {}): ObservedSegment => ({ name: `CommitLog-8-${id}.log`, id: BigInt(id), size: 1 << 20, linked: true, index: null, ...o });
const scanOf = (segments: ObservedSegment[], at = 1_000): Scan => ({ at, segments, strayIndexes: [], refused: [], bytes: 0 });

test('segment and index names are parsed; anything else is not one', () => {
  assert.equal(parseSegmentName('CommitLog-8-1765116000000.log'), { name: 'CommitLog-8-1765116000000.log', version: 8, id: 1765116000000n });
  assert.is(parseSegmentName('CommitLog-8-1.log.tmp'), null);
  assert.is(parseSegmentName('../CommitLog-8-1.log'), null);
  assert.is(segmentOfIndex('CommitLog-8-12_cdc.idx'), 'CommitLog-8-12.log');
  assert.is(segmentOfIndex('CommitLog-8-12.idx'), null);
  assert.is(indexNameOf('CommitLog-8-12.log'), 'CommitLog-8-12_cdc.idx');
});

test('a _cdc.idx gives the durable offset and COMPLETED; a half-written one is read again later; a foreign one is refused', () => {
  assert.equal(parseCdcIndex('4096\n'), { durable: 4096, completed: false });
  assert.equal(parseCdcIndex('4096\nCOMPLETED\n'), { durable: 4096, completed: true });
  assert.equal(parseCdcIndex('4096'), { durable: 4096, completed: false });
  assert.is(parseCdcIndex(''), null);
  assert.throws(() => parseCdcIndex('abc\n'), /not a byte offset/);
  assert.throws(() => parseCdcIndex('12\nDONE\n'), /not COMPLETED/);
  assert.throws(() => parseCdcIndex('9999999999\n'), /past the largest segment/);
});

test('a look stores each segment from its stored offset to its durable one, in pieces of bounded size', () => {
  const p = planCapture(emptyProgress(), scanOf([seg(10, { index: { durable: 300, completed: false } }), seg(11)]));
  assert.equal(p.ship, [{ segment: 'CommitLog-8-10.log', start: 0, end: 300 }]);
  assert.equal(p.finish, []);
  assert.is(p.progress.lastSegmentId, '11');
  assert.is(p.progress.segments['CommitLog-8-10.log'].cdc, true);
  assert.is(p.progress.segments['CommitLog-8-11.log'].cdc, false);
  assert.equal(splitRange('s', 0, 25, 10).map((s) => [s.start, s.end]), [[0, 10], [10, 20], [20, 25]]);
});

test('after a store, only the new durable bytes are planned; a COMPLETED or unlinked segment is finished', () => {
  const first = planCapture(emptyProgress(), scanOf([seg(10, { index: { durable: 300, completed: false } })]));
  const stored: Progress = structuredClone(first.progress);
  stored.segments['CommitLog-8-10.log'].shipped = 300;
  const second = planCapture(stored, scanOf([seg(10, { index: { durable: 500, completed: true } })]));
  assert.equal(second.ship, [{ segment: 'CommitLog-8-10.log', start: 300, end: 500 }]);
  assert.equal(second.finish, ['CommitLog-8-10.log']);
  // After a crash of Cassandra no COMPLETED comes: the last hard link (Cassandra discarded its file) makes it final.
  const crashed = planCapture(stored, scanOf([seg(10, { index: { durable: 300, completed: false }, linked: false })]));
  assert.equal(crashed.ship, []);
  assert.equal(crashed.finish, ['CommitLog-8-10.log']);
});

test('a segment with CDC mutations that vanishes before it is stored whole is a gap; one without CDC data is forgotten', () => {
  const before = planCapture(emptyProgress(), scanOf([seg(10, { index: { durable: 300, completed: false } }), seg(11)])).progress;
  before.segments['CommitLog-8-10.log'].shipped = 100;
  const p = planCapture(before, scanOf([seg(12)], 5_000));
  assert.equal(p.gaps.map((g) => [g.kind, g.segment, g.shipped, g.at]), [['vanished', 'CommitLog-8-10.log', 100, 5_000]]);
  assert.is(p.progress.segments['CommitLog-8-10.log'], undefined);
  assert.is(p.progress.segments['CommitLog-8-11.log'], undefined);
  assert.is(p.progress.gaps.length, 1);
});

test('segment ids that never appeared between two seen ones are a skipped gap; the first look records none', () => {
  const first = planCapture(emptyProgress(), scanOf([seg(500)]));
  assert.equal(first.gaps, []);
  const p = planCapture(first.progress, scanOf([seg(500), seg(501), seg(505)]));
  assert.equal(p.gaps.map((g) => [g.kind, g.fromId, g.toId]), [['skipped', '502', '504']]);
  assert.is(p.progress.lastSegmentId, '505');
});

test('a durable offset below the stored one is a torn read unless the segment is final', () => {
  const before = planCapture(emptyProgress(), scanOf([seg(10, { index: { durable: 300, completed: false } })])).progress;
  before.segments['CommitLog-8-10.log'].shipped = 300;
  const torn = planCapture(before, scanOf([seg(10, { index: { durable: 30, completed: false } })]));
  assert.equal([torn.ship, torn.gaps, torn.finish], [[], [], []]);
  const replaced = planCapture(before, scanOf([seg(10, { index: { durable: 30, completed: true } })]));
  assert.equal(replaced.gaps.map((g) => g.kind), ['offset-went-back']);
});

test('a segment with CDC data whose _cdc.idx cannot be read this time is left as it is, even once Cassandra has discarded it', () => {
  const before = planCapture(emptyProgress(), scanOf([seg(10, { index: { durable: 300, completed: false } })])).progress;
  before.segments['CommitLog-8-10.log'].shipped = 300;
  const p = planCapture(before, scanOf([seg(10, { index: null, linked: false })]));
  assert.equal([p.ship, p.finish, p.gaps], [[], [], []]);
  assert.is(p.progress.segments['CommitLog-8-10.log'].final, false);
});

test('a stray _cdc.idx is removed only when its segment is not being captured', () => {
  const s = { ...scanOf([seg(10, { index: { durable: 1, completed: false } })]), strayIndexes: ['CommitLog-8-9_cdc.idx'] };
  assert.equal(planCapture(emptyProgress(), s).strayIndexes, ['CommitLog-8-9_cdc.idx']);
});

test('the capture\'s paths are under a root no backup id can name, and check what goes into them', () => {
  assert.not.ok(BACKUP_ID.test(CAPTURE_ROOT));
  assert.is(capturePiecePath('thehive', 'cass1', 'CommitLog-8-10.log', 0, 4096), 'tandem_capture/thehive/cass1/commitlog/CommitLog-8-10.log/0000000000-0000004096.part');
  assert.is(captureIndexPath('thehive', 'cass1', 'CommitLog-8-10.log'), 'tandem_capture/thehive/cass1/commitlog/CommitLog-8-10.log/index.ndjson');
  assert.is(captureGapsPath('thehive', 'cass1'), 'tandem_capture/thehive/cass1/gaps.ndjson');
  assert.equal(parsePieceName('0000000000-0000004096.part'), { start: 0, end: 4096, sealed: false });
  assert.equal(parsePieceName('0000000000-0000004096.part.age'), { start: 0, end: 4096, sealed: true });
  assert.is(parsePieceName('0000004096-0000004096.part'), null);
  assert.throws(() => capturePiecePath('thehive', 'cass1', '../x.log', 0, 1), /commitlog segment/);
  assert.throws(() => capturePiecePath('the/hive', 'cass1', 'CommitLog-8-1.log', 0, 1), /cluster name/);
  assert.throws(() => capturePiecePath('thehive', 'cass1', 'CommitLog-8-1.log', 5, 5), /invalid piece/);
});

test.run();
