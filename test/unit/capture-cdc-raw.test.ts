/**
 * The commitlog capture against real files: a temporary folder stands in for cdc_raw, with
 * segments hard-linked from a commitlog folder as Cassandra links them, and _cdc.idx files
 * written the way Cassandra writes them; the capture stores into a local-folder destination.
 */
import { existsSync, openSync, readdirSync, readFileSync, closeSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assembleSegment } from '../../agent/roles/cassandra/capture';
import { captureGapsPath, capturePiecePath, captureSegmentFolder } from '../../shared/destination/layout';
import { makeCaptureCerts, type CaptureCerts } from '../helpers/capture-certs';
import { captureNode, failure } from '../helpers/capture-node';

const SEGMENT_BYTES = 64 * 1024;

let certs: CaptureCerts;
test.before(async () => {
  certs = await makeCaptureCerts();
  await certs.signing('cass1');
});

const node = (recipients?: string[]) => captureNode(certs, recipients);

test('the durable prefix of an active segment is stored as it grows, each piece once, with its sha256 in the index', async () => {
  const n = node();
  const s = n.segment(1000);
  n.sync(1000, 1000);
  const c = n.capture();
  assert.is((await c.look()).storedBytes, 1000);
  n.sync(1000, 5000);
  assert.is((await c.look()).storedBytes, 4000);
  assert.is((await c.look()).storedBytes, 0, 'nothing new, nothing stored');
  assert.equal(n.stored(s.name), ['0000000000-0000001000.part', '0000001000-0000005000.part']);
  assert.ok(n.concat(s.name).equals(s.content.subarray(0, 5000)));
  const lines = n.indexLines(s.name);
  assert.equal(lines.map((l) => [l.start, l.end]), [[0, 1000], [1000, 5000]]);
  assert.match(lines[1].sha256, /^[0-9a-f]{64}$/);
  assert.ok(existsSync(join(n.dirs.cdcRaw, s.name)), 'an active segment stays in cdc_raw');
  const last = n.seen.at(-1)!;
  assert.equal([last.unshippedBytes, last.lagSeconds < 5, last.cdcRawBytes], [0, true, SEGMENT_BYTES]);
});

test('a restarted agent resumes at the first byte not recorded, and adopts a piece stored before it could record it', async () => {
  const n = node();
  const s = n.segment(2000);
  n.sync(2000, 3000);
  await n.capture().look();
  // The agent stored [3000, 8000) and died before its progress file said so.
  await n.dest.put(capturePiecePath('thehive', 'cass1', s.name, 3000, 8000), Readable.from([s.content.subarray(3000, 8000)]));
  n.sync(2000, 9000);
  const again = n.capture();
  const r = await again.look();
  assert.is(r.storedBytes, 6000, 'adopted [3000, 8000), stored [8000, 9000)');
  assert.equal(n.stored(s.name), ['0000000000-0000003000.part', '0000003000-0000008000.part', '0000008000-0000009000.part']);
  assert.ok(n.concat(s.name).equals(s.content.subarray(0, 9000)));
  assert.equal(n.indexLines(s.name).map((l) => l.end), [3000, 8000, 9000]);
  assert.is((await n.capture().look()).storedBytes, 0, 'a third start stores nothing again');
});

test('a piece at the destination that is not the segment\'s bytes is removed, not adopted', async () => {
  const n = node();
  const s = n.segment(2500);
  n.sync(2500, 4000);
  await n.dest.put(capturePiecePath('thehive', 'cass1', s.name, 0, 4000), Readable.from([randomBytes(4000)]));
  await n.capture().look();
  assert.ok(n.concat(s.name).equals(s.content.subarray(0, 4000)));
  assert.is(n.stored(s.name).length, 1);
});

test('a COMPLETED segment stored whole is removed from cdc_raw with its index; Cassandra\'s own file is left', async () => {
  const n = node();
  const s = n.segment(3000);
  n.sync(3000, 2000);
  const c = n.capture();
  await c.look();
  n.sync(3000, 7000, true);
  const r = await c.look();
  assert.equal(r.removed, [s.name]);
  assert.equal(readdirSync(n.dirs.cdcRaw), []);
  assert.ok(existsSync(join(n.dirs.commitlog, s.name)));
  assert.ok(n.concat(s.name).equals(s.content.subarray(0, 7000)));
  assert.is(n.seen.at(-1)!.cdcRawBytes, 0);
  assert.is(n.gaps(), 0);
});

test('after a crash of Cassandra (no COMPLETED ever comes) a segment whose commitlog file is gone is final', async () => {
  const n = node();
  const s = n.segment(3500);
  n.sync(3500, 1500);
  unlinkSync(join(n.dirs.commitlog, s.name));
  const r = await n.capture().look();
  assert.equal(r.removed, [s.name]);
  assert.ok(n.concat(s.name).equals(s.content.subarray(0, 1500)));
});

test('a segment that vanishes before it is stored whole is a recorded gap; one without CDC data is not', async () => {
  const n = node();
  const s = n.segment(4000);
  const quiet = n.segment(4001);
  n.sync(4000, 1000);
  const c = n.capture();
  await c.look();
  n.sync(4000, 6000);
  unlinkSync(join(n.dirs.cdcRaw, s.name));
  unlinkSync(join(n.dirs.cdcRaw, `CommitLog-8-4000_cdc.idx`));
  unlinkSync(join(n.dirs.cdcRaw, quiet.name));
  const r = await c.look();
  assert.is(r.gaps, 1);
  assert.is(n.gaps(), 1);
  const gaps = readFileSync(join(n.dirs.dest, captureGapsPath('thehive', 'cass1')), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(gaps.map((g) => [g.kind, g.segment, g.shipped]), [['vanished', s.name, 1000]]);
  assert.match(gaps[0].at, /^\d{4}-\d\d-\d\dT/);
  // The gap survives a restart: it is in the progress file, and written again.
  await n.capture().look();
  assert.is(readFileSync(join(n.dirs.dest, captureGapsPath('thehive', 'cass1')), 'utf8').trim().split('\n').length, 1);
});

test('segment ids that never appeared while the agent was down are a recorded gap', async () => {
  const n = node();
  n.segment(5000);
  n.sync(5000, 100, true);
  await n.capture().look();
  n.segment(5004);
  const r = await n.capture().look();
  assert.is(r.gaps, 1);
  const gaps = readFileSync(join(n.dirs.dest, captureGapsPath('thehive', 'cass1')), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(gaps.map((g) => [g.kind, g.fromId, g.toId]), [['skipped', '5001', '5003']]);
});

test('links in cdc_raw are refused by name and never read, removed or stored', async () => {
  const n = node();
  const secret = join(n.dirs.state, '..', 'secret');
  writeFileSync(secret, 'not a segment');
  symlinkSync(secret, join(n.dirs.cdcRaw, 'CommitLog-8-6000.log'));
  writeFileSync(join(n.dirs.state, '..', 'idx'), '13\nCOMPLETED\n');
  symlinkSync(join(n.dirs.state, '..', 'idx'), join(n.dirs.cdcRaw, 'CommitLog-8-6000_cdc.idx'));
  const s = n.segment(6001);
  // A real segment whose _cdc.idx is a link: its bytes are not trusted either.
  symlinkSync(join(n.dirs.state, '..', 'idx'), join(n.dirs.cdcRaw, 'CommitLog-8-6001_cdc.idx'));
  const r = await n.capture().look();
  assert.equal(r.refused.sort(), ['CommitLog-8-6000.log', 'CommitLog-8-6000_cdc.idx', 'CommitLog-8-6001_cdc.idx']);
  assert.is(r.storedBytes, 0);
  assert.not.ok(existsSync(join(n.dirs.dest, captureSegmentFolder('thehive', 'cass1', 'CommitLog-8-6000.log'))));
  assert.not.ok(existsSync(join(n.dirs.dest, captureSegmentFolder('thehive', 'cass1', s.name))));
  assert.ok(existsSync(join(n.dirs.cdcRaw, 'CommitLog-8-6000.log')), 'a refused name is left for the operator');
  assert.is(readFileSync(secret, 'utf8'), 'not a segment');
});

test('a piece is only ever the bytes the segment file holds: a write past the durable offset is not stored', async () => {
  const n = node();
  const s = n.segment(7000);
  n.sync(7000, 100);
  // Cassandra writes ahead of the sync; the bytes past the offset may not be on disk yet.
  const fd = openSync(join(n.dirs.commitlog, s.name), 'r+');
  writeSync(fd, Buffer.alloc(50, 1), 0, 50, 200);
  closeSync(fd);
  await n.capture().look();
  assert.is(n.concat(s.name).length, 100);
});

test('a segment is put back together from its pieces, and a changed or missing piece is refused', async () => {
  const n = node();
  const s = n.segment(8000);
  n.sync(8000, 1000);
  const c = n.capture();
  await c.look();
  n.sync(8000, 2500);
  await c.look();
  assert.ok((await assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)).equals(s.content.subarray(0, 2500)));
  const piece = join(n.dirs.dest, capturePiecePath('thehive', 'cass1', s.name, 1000, 2500));
  writeFileSync(piece, randomBytes(1500));
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)), /does not match its sha256/);
  unlinkSync(piece);
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)), /not|no such|ENOENT/i);
});

test.run();
