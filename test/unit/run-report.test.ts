/**
 * Run reports, without a fleet: timelines as their schemas read them back from a destination,
 * spans turned into rows on the coordinator's clock, the cut's spread, the agent's recorder, the
 * coordinator's phase clock, and hostile strings escaped wherever the page shows them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Timelines } from '../../agent/backup/timeline';
import { RunClock } from '../../coordinator/backup/run-clock';
import { backupModel } from '../../coordinator/report/backup-model';
import { renderHtml } from '../../coordinator/report/html';
import { escapeText } from '../../coordinator/report/markup';
import { packLanes, type Bar } from '../../coordinator/report/model';
import { restoreModel } from '../../coordinator/report/restore-model';
import { renderSvg } from '../../coordinator/report/svg';
import { silentLogger } from '../../shared/log';
import { manifestSchema, type Manifest } from '../../shared/manifest';
import { nodePartSchema, TIMELINE_MAX_SPANS, timelineSchema } from '../../shared/parts';
import type { RestoreOutcome } from '../../coordinator/restore/run';
import { SET_ID, validManifest } from '../helpers/backup-set';

const T0 = Date.parse('2026-11-22T10:15:00.000Z');
const bar = (label: string, start: number, end: number): Bar => ({ kind: 'archive', label, start, end });

/** A manifest whose node1 (clock 250 ms ahead) recorded a timeline with two tables archived at once. */
function manifest(edit: (m: Record<string, any>) => void = () => undefined): Manifest {
  const m = validManifest();
  Object.assign(m, { startedAt: new Date(T0).toISOString(), completedAt: new Date(T0 + 10_000).toISOString(), durationMs: 10_000, snapshotSpreadMs: 3 });
  m.phases = [
    { phase: 'preflight', startedAt: T0, endedAt: T0 + 100 },
    { phase: 'prepare', startedAt: T0 + 100, endedAt: T0 + 1000 },
    { phase: 'commit', startedAt: T0 + 1000, endedAt: T0 + 1100 },
    { phase: 'shipping', startedAt: T0 + 1100, endedAt: T0 + 9000 },
    { phase: 'manifest', startedAt: T0 + 9000, endedAt: T0 + 9100 },
  ];
  const n = m.nodes[0];
  n.clockOffsetMs = 250;
  const a = (ms: number) => T0 + 250 + ms; // node1's clock
  n.commits = { cassandra: { tag: SET_ID, keyspaces: ['thehive'], cutAt: a(1050), requestedAt: a(1040), returnedAt: a(1060), tables: 2 } };
  n.timeline = [
    { phase: 'prepare', startedAt: a(150), endedAt: a(900) },
    { phase: 'snapshot', role: 'cassandra', startedAt: a(1040), endedAt: a(1060) },
    { phase: 'cut', role: 'cassandra', startedAt: a(1030), endedAt: a(1070) },
    { phase: 'commit', startedAt: a(1020), endedAt: a(1080) },
    { phase: 'archive', role: 'cassandra', table: 'thehive.edgestore', startedAt: a(1200), endedAt: a(6200), bytesIn: 100e6, bytesOut: 90e6, files: 8 },
    { phase: 'archive', role: 'cassandra', table: 'thehive.graphindex', startedAt: a(1200), endedAt: a(3200), bytesIn: 20e6, bytesOut: 18e6, files: 8 },
    { phase: 'archive', role: 'cassandra', table: 'thehive.janusgraph_ids', startedAt: a(3300), endedAt: a(3400), bytesIn: 1e6, bytesOut: 1e6, files: 8 },
    { phase: 'ship', role: 'cassandra', startedAt: a(1100), endedAt: a(8000), files: 5, bytesOut: 109e6 },
    { phase: 'finish', startedAt: a(8000), endedAt: a(8800) },
  ];
  edit(m);
  return manifestSchema.parse(m);
}

test('packLanes: bars that overlap go onto lanes of their own, the others share one', () => {
  const lanes = packLanes([bar('c', 3000, 3100), bar('a', 0, 5000), bar('b', 0, 2000), bar('d', 5000, 6000)]);
  // The shorter of two bars that start together goes first; later bars fill the first free lane.
  assert.equal(lanes.map((l) => l.map((b) => b.label)), [['b', 'c', 'd'], ['a']]);
  assert.equal(packLanes([]), []);
});

test("a node's spans become its row on the coordinator's clock: its phases first, archives packed below, its cut a marker", () => {
  const model = backupModel(manifest());
  assert.equal(model.rows.map((r) => r.name), ['coordinator', 'node1']);
  assert.equal(model.rows[0].lanes[0].map((b) => b.label), ['preflight', 'prepare', 'commit', 'shipping', 'manifest']);
  const node = model.rows[1];
  assert.equal(node.lanes[0].map((b) => b.label), ['prepare', 'commit', 'ship cassandra', 'finish']);
  // Two tables archived at once take two lanes; the cut and the snapshot overlap too.
  assert.equal(node.lanes.slice(1).map((l) => l.map((b) => b.label)), [
    ['cassandra cut', 'thehive.graphindex', 'thehive.janusgraph_ids'],
    ['cassandra snapshot', 'thehive.edgestore'],
  ]);
  const edgestore = node.lanes.flat().find((b) => b.label === 'thehive.edgestore')!;
  assert.equal([edgestore.start - T0, edgestore.end - T0], [1200, 6200], "moved onto the coordinator's clock");
  assert.equal(node.markers, [{ at: T0 + 1050, label: 'cassandra cut' }]);
  assert.is(node.missing, undefined);
  assert.equal([model.start, model.end], [T0, T0 + 10_000]);
  const facts = Object.fromEntries(model.facts);
  assert.is(facts['node1 archives'], '3 tables, 115.4 MiB → 104.0 MiB, 24.2 MB/s in 5.0 s');
  assert.is(facts['coordinator shipping'], '7.9 s');
  assert.is(facts['snapshot spread'], '3 ms');
});

test("the cut's spread: Cassandra's instants by each node's clock, as snapshotSpreadMs measures them", () => {
  const m = manifest((x) => {
    const other = JSON.parse(JSON.stringify(x.nodes[0]));
    other.node = 'node2';
    other.hostname = 'node2';
    other.record.path = `${SET_ID}/node2/part.json`;
    other.parts = {};
    other.commits.cassandra.cutAt += 3;
    x.nodes.push(other);
  });
  const cut = backupModel(m).cut!;
  assert.equal(cut.points.map((p) => [p.node, p.at - cut.points[0].at]), [['node1', 0], ['node2', 3]]);
  assert.is(cut.spreadMs, 3);
  assert.match(renderSvg(backupModel(m)).text, 'the cut, zoomed: 3 ms between the nodes');
});

test('a set without a timeline or phases: the rows say what is missing, the cut is still drawn', () => {
  const m = manifest((x) => {
    delete x.phases;
    delete x.nodes[0].timeline;
  });
  const model = backupModel(m);
  assert.equal(model.rows.map((r) => r.lanes.length), [0, 0]);
  assert.match(model.rows[1].missing!, 'timeline not recorded');
  assert.equal(model.rows[1].markers.map((k) => k.label), ['cassandra cut']);
  assert.ok(model.notes.some((n) => n.startsWith('node1: timeline not recorded')));
  assert.match(renderHtml(model), 'timeline not recorded');
});

test('hostile strings from the destination are escaped in the SVG and the page; control characters dropped', () => {
  const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>\u0000\u001b`;
  // A host name and versions are free text in the manifest: they pass its schema.
  const m = manifest((x) => {
    x.nodes[0].hostname = hostile;
    x.nodes[0].roles = [hostile];
    x.tandemVersion = hostile;
  });
  const model = backupModel(m);
  // Node and table names cannot pass the schema; the renderer must hold even if they did.
  model.rows[1].name = hostile;
  model.rows[1].lanes[2][1].label = `thehive.</text><script>x</script>`;
  model.facts.push([hostile, hostile]);
  model.notes.push(hostile);
  for (const out of [renderSvg(model).text, renderHtml(model)]) {
    assert.not.match(out, /<script|<img|onerror=alert\(2\)>|\u0000|\u001b/);
    assert.match(out, '&lt;script&gt;alert(1)&lt;/script&gt;');
    assert.match(out, '&quot;&gt;');
    assert.match(out, 'thehive.&lt;/text&gt;&lt;script&gt;x&lt;/script&gt;');
  }
  assert.match(renderHtml(model), `content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  assert.is(escapeText(`a&b<c>"d'e`), 'a&amp;b&lt;c&gt;&quot;d&#39;e');
});

test('timelines read back from a destination: names, order and length are held to the schema', () => {
  const span = { phase: 'archive', role: 'cassandra', table: 'thehive.edgestore', startedAt: T0, endedAt: T0 + 1 };
  assert.ok(timelineSchema.safeParse([span]).success);
  for (const [what, bad] of [
    ['a table name with markup', { ...span, table: 'thehive.</text><script>' }],
    ['a table without its keyspace', { ...span, table: 'edgestore' }],
    ['an unknown phase', { ...span, phase: 'exfiltrate' }],
    ['an unknown role', { ...span, role: 'mysql' }],
    ['an end before the start', { ...span, endedAt: T0 - 1 }],
    ['a negative instant', { ...span, startedAt: -5 }],
    ['an unknown field', { ...span, script: 'x' }],
  ] as const) {
    assert.not.ok(timelineSchema.safeParse([bad]).success, what);
  }
  assert.not.ok(timelineSchema.safeParse(Array(TIMELINE_MAX_SPANS + 1).fill(span)).success, 'past the bound');
  assert.not.ok(manifestSchema.safeParse({ ...manifest(), phases: [{ phase: 'prepare', startedAt: T0, endedAt: T0 - 1 }] }).success);
  assert.ok(nodePartSchema.shape.timeline.isOptional(), 'part.json of an older agent has none');
});

test("the agent's recorder: a span of a clock set back is clamped, an invalid one dropped, role spans bounded", async () => {
  const t = new Timelines(silentLogger(), () => T0);
  t.add('b1', { phase: 'archive', role: 'cassandra', table: 'thehive.edgestore', startedAt: T0 + 10, endedAt: T0 });
  t.add('b1', { phase: 'archive', role: 'cassandra', table: 'not a table', startedAt: T0, endedAt: T0 });
  assert.equal(t.spans('b1').map((s) => [s.table, s.endedAt - s.startedAt]), [['thehive.edgestore', 0]]);
  for (let i = 0; i < TIMELINE_MAX_SPANS + 10; i++) t.add('b2', { phase: 'archive', role: 'cassandra', startedAt: T0, endedAt: T0 });
  // The controller's own spans still fit once the roles' are at their bound.
  t.add('b2', { phase: 'ship', role: 'cassandra', startedAt: T0, endedAt: T0 });
  const spans = t.spans('b2');
  assert.ok(spans.length < TIMELINE_MAX_SPANS, `${spans.length}`);
  assert.is(spans[spans.length - 1].phase, 'ship');
  const r = await t.timed('b3', { phase: 'ship', role: 'files' }, async () => ({ files: [{ size: 5 }], listed: { files: 2, bytes: 7 } }), (x) => ({ files: x.files.length + x.listed.files, bytesOut: 12 }));
  assert.is(r.listed.files, 2);
  assert.equal(t.spans('b3').map((s) => [s.phase, s.role, s.files, s.bytesOut]), [['ship', 'files', 3, 12]]);
  t.forget('b1');
  assert.equal(t.spans('b1'), []);
});

test("the coordinator's phase clock: each phase runs until the next starts; durations per phase", () => {
  let now = 1000;
  const c = new RunClock(() => now);
  c.start('preflight');
  now = 1300;
  c.start('prepare');
  now = 2000;
  c.start('cleanup');
  now = 2500;
  c.end();
  now = 9999;
  c.end();
  assert.equal(c.durations(), { preflight: 300, prepare: 700, cleanup: 500 });
  assert.equal(c.phases().map((p) => [p.phase, p.startedAt, p.endedAt]), [['preflight', 1000, 1300], ['prepare', 1300, 2000], ['cleanup', 2000, 2500]]);
});

test("a restore's report: each phase on each node, the coordinator's barrier, a failed phase in its colour", () => {
  const m = manifest();
  const outcome: RestoreOutcome = {
    restoreId: 'restore-1', backupId: SET_ID, ok: false, failedPhase: 'load', problems: ['load on node1: nodetool import failed'],
    results: { fetch: { node1: [{ role: 'cassandra', ran: true, ok: true, problems: [], problemCount: 0, detail: '3 archives fetched', tables: [], indices: [], files: undefined }] } },
    durationMs: 3000,
    timings: [
      { phase: 'fetch', node: 'node1', startedAt: T0, endedAt: T0 + 2000, ok: true, bytes: 40e6, files: 3 },
      { phase: 'schema', node: 'node1', startedAt: T0 + 2000, endedAt: T0 + 2100, ok: true, bytes: 0, files: 0 },
      { phase: 'load', node: 'node1', startedAt: T0 + 2100, endedAt: T0 + 3000, ok: false, bytes: 0, files: 0 },
    ],
  };
  const model = restoreModel(m, outcome);
  assert.equal(model.rows.map((r) => r.name), ['coordinator', 'node1']);
  assert.equal(model.rows[1].lanes[0].map((b) => [b.kind, b.label]), [['fetch', 'fetch'], ['schema', 'schema'], ['failed', 'load (failed)']]);
  assert.is(model.rows[1].lanes[0][0].note, 'cassandra: 3 archives fetched');
  assert.match(renderHtml(model), '20.0 MB/s');
  assert.equal(Object.fromEntries(model.facts).outcome, 'stopped in phase load');
  assert.equal(model.notes, ['load on node1: nodetool import failed']);
});

test.run();
