/**
 * The recoverable windows of `tandem list`: each node's capture read from its signed lines alone
 * (a real capture at a local destination), a window from a set's cut to the end of every node's
 * capture, cut short by a gap, and an edited line reported by file and never used.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readCapture } from '../../coordinator/sets/capture-windows';
import { captureWindows, setCut, type NodeCapture, type SetCut } from '../../coordinator/sets/windows';
import { captureIndexPath } from '../../shared/destination/layout';
import type { Manifest } from '../../shared/manifest';
import { parseManifest } from '../../shared/manifest';
import { runCommand } from '../../shared/exec';
import { SET_ID, validManifest } from '../helpers/backup-set';
import { makeCaptureCerts, type CaptureCerts } from '../helpers/capture-certs';
import { captureNode } from '../helpers/capture-node';
import { signingKeyAt, writeSignedManifest, writeSigningKeySync } from '../helpers/signing';

let certs: CaptureCerts;
test.before(async () => {
  certs = await makeCaptureCerts();
  await certs.signing('cass1');
});

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const sec = (s: number) => T0 + s * 1000;

/** A capture of cass1: segment 100 at T0 and T0+10 s, 101 at T0+20 s, then (with `gap`) 105 at T0+30 s and T0+40 s, ids 102-104 never seen. */
async function captured(gap: boolean) {
  let now = T0;
  const n = captureNode(certs, undefined, () => now);
  const c = n.capture();
  n.segment(100);
  n.sync(100, 3000);
  await c.look();
  now = sec(10);
  n.sync(100, 9000, true);
  await c.look();
  now = sec(20);
  n.segment(101);
  n.sync(101, 2000);
  await c.look();
  if (gap) {
    now = sec(30);
    n.segment(105);
    n.sync(105, 1000);
    await c.look();
    now = sec(40);
    n.sync(105, 4000);
    await c.look();
  }
  return n;
}

const set = (id: string, at: number): SetCut => ({ id, nodes: [{ node: 'cass1', cutAt: at }] });

test('a node\'s capture is summarised from its signed lines, and a set cut inside it opens a window to its end', async () => {
  const n = await captured(false);
  const capture = await readCapture(n.dest, () => certs.ca);
  assert.is(capture.length, 1);
  const c = capture[0];
  assert.equal([c.cluster, c.node, c.capturedFrom, c.capturedTo, c.segments, c.bytes, c.gaps, c.problems], ['thehive', 'cass1', iso(T0), iso(sec(20)), 2, 11000, [], []]);
  const windows = captureWindows([set('set-a', sec(5))], capture);
  assert.equal(windows.map((w) => [w.cluster, w.set, w.from, w.to, w.nodes, w.edge.kind]), [['thehive', 'set-a', iso(sec(5)), iso(sec(20)), ['cass1'], 'capture-end']]);
  // A set cut before the capture's first piece opens none: the capture cannot vouch for what came before.
  assert.equal(captureWindows([set('set-early', T0 - 1000)], capture), []);
});

test('a gap cuts a window at the last piece stored before it was found; a set cut after it opens its own', async () => {
  const n = await captured(true);
  const [c] = await readCapture(n.dest, () => certs.ca);
  assert.equal(c.gaps.map((g) => [g.kind, g.at, g.fromId, g.toId]), [['skipped', iso(sec(30)), '102', '104']]);
  assert.is(c.capturedTo, iso(sec(40)));
  const windows = captureWindows([set('set-a', sec(5)), set('set-b', sec(35))], [c]);
  assert.equal(windows.map((w) => [w.set, w.from, w.to, w.edge.kind]), [['set-a', iso(sec(5)), iso(sec(20)), 'gap'], ['set-b', iso(sec(35)), iso(sec(40)), 'capture-end']]);
  assert.match(windows[0].edge.what, /skipped at .*102-104/);
});

test('an index line edited at the destination is a problem naming its file, and nothing from it on is used', async () => {
  const n = await captured(true);
  const file = captureIndexPath('thehive', 'cass1', 'CommitLog-8-101.log');
  const lines = readFileSync(join(n.dirs.dest, file), 'utf8').trim().split('\n');
  const edited = { ...JSON.parse(lines[0]), storedAt: iso(sec(90)) };
  writeFileSync(join(n.dirs.dest, file), `${JSON.stringify(edited)}\n`);
  const [c] = await readCapture(n.dest, () => certs.ca);
  assert.equal(c.problems.map((p) => p.file), [file]);
  assert.match(c.problems[0].detail, /signature does not check/);
  // Segment 101's piece is not counted; the capture's instants are the trusted lines' alone.
  assert.equal([c.capturedTo, c.bytes], [iso(sec(40)), 9000 + 4000]);
  const [w] = captureWindows([set('set-a', sec(5))], [c]);
  // The refused bytes lie between segment 100's last piece and 105's first: the window ends at the former.
  assert.equal([w.to, w.edge.kind], [iso(sec(10)), 'problem']);
  assert.match(w.edge.what, /CommitLog-8-101\.log\/index\.ndjson/);
});

test('a segment without an index is a problem when later segments have pieces, and the tail being written when none has', async () => {
  const n = await captured(true);
  const { rmSync } = await import('node:fs');
  rmSync(join(n.dirs.dest, captureIndexPath('thehive', 'cass1', 'CommitLog-8-105.log')));
  const [tail] = await readCapture(n.dest, () => certs.ca);
  assert.equal([tail.problems, tail.capturedTo], [[], iso(sec(20))]);
  rmSync(join(n.dirs.dest, captureIndexPath('thehive', 'cass1', 'CommitLog-8-100.log')));
  const [hole] = await readCapture(n.dest, () => certs.ca);
  assert.equal(hole.problems.map((p) => p.file), [captureIndexPath('thehive', 'cass1', 'CommitLog-8-100.log')]);
  assert.equal(captureWindows([set('set-a', sec(5))], [hole]), []);
});

test('without a capture folder there is nothing to list; without the fleet\'s CA a capture is refused whole', async () => {
  const n = await captured(false);
  const empty = captureNode(certs);
  assert.equal(await readCapture(empty.dest, () => { throw new Error('the CA is not asked for without a capture'); }), []);
  const [c] = await readCapture(n.dest, () => null);
  assert.equal([c.capturedFrom, c.segments], [null, 0]);
  assert.match(c.problems[0].detail, /no tls\.ca/);
  assert.equal(captureWindows([set('set-a', sec(5))], [c]), []);
});

const node = (name: string, from: number, to: number, breaks: NodeCapture['breaks'] = []): NodeCapture => ({
  cluster: 'thehive', node: name, capturedFrom: iso(from), capturedTo: iso(to), segments: 1, bytes: 1, gaps: [], problems: [], breaks,
});

test('a window runs from the latest snapshot of the set to the earliest end among its nodes, every node needed', () => {
  const sets: SetCut[] = [{ id: 's1', nodes: [{ node: 'a', cutAt: sec(10) }, { node: 'b', cutAt: sec(12) }] }];
  const [w] = captureWindows(sets, [node('a', sec(0), sec(100)), node('b', sec(5), sec(80))]);
  assert.equal([w.from, w.to, w.edge.node, w.edge.kind, w.nodes], [iso(sec(12)), iso(sec(80)), 'b', 'capture-end', ['a', 'b']]);
  // b's capture starts after its snapshot, or b has none: no window.
  assert.equal(captureWindows(sets, [node('a', sec(0), sec(100)), node('b', sec(13), sec(80))]), []);
  assert.equal(captureWindows(sets, [node('a', sec(0), sec(100))]), []);
});

test('a break concerns a window only when found after its cut, and never ends it before the cut', () => {
  const sets = [set('s1', sec(50))];
  const gap = (after: number | null, before: number | null) => ({ kind: 'gap' as const, after: after === null ? null : iso(after), before: before === null ? null : iso(before), what: 'g' });
  assert.is(captureWindows(sets, [node('cass1', 0, sec(100), [gap(sec(20), sec(40))])])[0].to, iso(sec(100)));
  assert.equal(captureWindows(sets, [node('cass1', 0, sec(100), [gap(sec(70), sec(75))])]).map((w) => [w.to, w.edge.kind]), [[iso(sec(70)), 'gap']]);
  // Found after the cut but losing what came before it: the window is empty, and left out.
  assert.equal(captureWindows(sets, [node('cass1', 0, sec(100), [gap(sec(30), sec(60))])]), []);
  assert.equal(captureWindows(sets, [node('cass1', 0, sec(100), [gap(null, null)])]), []);
});

test('a set\'s cut is each Cassandra node\'s snapshot instant from its manifest', () => {
  const m = { id: 'set-1', nodes: [
    { node: 'cass1', commits: { cassandra: { cutAt: 1000 } }, parts: { cassandra: {} } },
    { node: 'es1', commits: { elasticsearch: {} }, parts: { elasticsearch: {} } },
  ] } as unknown as Manifest;
  assert.equal(setCut(m), { id: 'set-1', nodes: [{ node: 'cass1', cutAt: 1000 }] });
});

const CLI = join(__dirname, '..', '..', 'coordinator', 'main.js');

test('tandem list prints the windows after the sets, escaped, and --json carries them with each node\'s capture', async () => {
  const n = await captured(true);
  const m = validManifest();
  const node = m.nodes[0];
  m.nodes[0] = { ...node, node: 'cass1', hostname: 'cass1', record: { ...node.record, path: `${SET_ID}/cass1/part.json` }, commits: { cassandra: { tag: SET_ID, keyspaces: ['thehive'], cutAt: sec(5), requestedAt: sec(5), returnedAt: sec(5), tables: 1 } } };
  for (const r of [m.nodes[0].parts.cassandra.tables[0], m.nodes[0].parts.cassandra.contents, m.nodes[0].parts.elasticsearch.record, m.nodes[0].parts.files.listing, ...m.files]) r.path = r.path.replace('/node1/', '/cass1/');
  m.files[0].node = 'cass1';
  Object.assign(m, { startedAt: iso(sec(4)), committedAt: iso(sec(5)), completedAt: iso(sec(6)) });
  const keys = writeSigningKeySync(join(n.dirs.dest, '..', 'keys'));
  await writeSignedManifest(n.dest, parseManifest(JSON.stringify(m), SET_ID), signingKeyAt(keys.key));
  const fleet = join(n.dirs.dest, '..', 'fleet.yaml');
  writeFileSync(fleet, `agents: [{node: cass1, address: "127.0.0.1:1", roles: [cassandra]}]\ndestination: {type: local, path: ${n.dirs.dest}}\nsigning: {key: ${keys.key}}\n` +
    `tls: {ca: ${join(certs.dir, 'ca.crt')}, cert: ${join(certs.dir, 'cass1.crt')}, key: ${join(certs.dir, 'cass1.key')}}\n`);
  const json = await runCommand([process.execPath, CLI, 'list', '--config', fleet, '--json']);
  const listed = JSON.parse(json.stdout);
  assert.equal(listed.backupSets.map((s: { status: string }) => s.status), ['complete']);
  assert.equal(listed.captureWindows.map((w: { set: string; from: string; to: string }) => [w.set, w.from, w.to]), [[SET_ID, iso(sec(5)), iso(sec(20))]]);
  assert.equal(listed.capture.map((c: NodeCapture) => [c.node, c.capturedTo, c.gaps.length]), [['cass1', iso(sec(40)), 1]]);
  const text = (await runCommand([process.execPath, CLI, 'list', '--config', fleet])).stdout;
  assert.match(text, new RegExp(`thehive  from ${SET_ID} at ${iso(sec(5))}  to ${iso(sec(20))}  \\(cass1\\)  edge: gap skipped`));
  assert.match(text, /thehive\/cass1 .* 1 gaps  0 problems/);
  assert.match(text, /gap skipped at .* segments 102-104/);
  // No capture folder: the JSON carries empty lists, the text nothing more.
  const bare = captureNode(certs);
  writeFileSync(fleet, readFileSync(fleet, 'utf8').replace(n.dirs.dest, bare.dirs.dest));
  const none = JSON.parse((await runCommand([process.execPath, CLI, 'list', '--config', fleet, '--json'])).stdout);
  assert.equal([none.captureWindows, none.capture], [[], []]);
  assert.is((await runCommand([process.execPath, CLI, 'list', '--config', fleet])).stdout, 'no backup sets\n');
});

test.run();
