/** A backup set's report, from its manifest: the coordinator's phases and each node's timeline. */
import { formatBytes } from '../../shared/format';
import type { Manifest, ManifestNode } from '../../shared/manifest';
import { spanWindowMs, type Commits, type TimelineSpan } from '../../shared/parts';
import { describeSizes, formatDuration } from './format';
import { extent, packLanes, type Bar, type CutSpread, type Marker, type ReportModel, type Row } from './model';

/** Phases of a node's own work, on its first lane; the rest (cuts, archives, copies) go below. */
const NODE_PHASES = new Set<TimelineSpan['phase']>(['prepare', 'commit', 'ship', 'finish']);

/** A bar's text: what the span was, in the operator's words. */
function spanLabel(s: TimelineSpan): string {
  switch (s.phase) {
    case 'archive': return s.table ?? 'archive';
    case 'count': return 'row count';
    case 'ship': return `ship ${s.role ?? ''}`.trim();
    case 'cut':
    case 'snapshot':
    case 'copy': return `${s.role ?? ''} ${s.phase}`.trim();
    default: return s.phase;
  }
}

/** One node's spans as bars on the coordinator's clock. */
export function nodeBars(n: Pick<ManifestNode, 'clockOffsetMs'>, spans: readonly TimelineSpan[]): Bar[] {
  return spans.map((s) => ({
    kind: s.phase,
    label: spanLabel(s),
    start: s.startedAt - n.clockOffsetMs,
    end: s.endedAt - n.clockOffsetMs,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    files: s.files,
    note: s.phase === 'archive' ? `table ${s.table} (${s.role ?? 'cassandra'})` : undefined,
  }));
}

/** Each role's cut instant (`cutAt` of its commit record), by the node's clock. */
function cuts(commits: Commits): { role: string; at: number }[] {
  return Object.entries(commits).flatMap(([role, c]) => (c && 'cutAt' in c && typeof c.cutAt === 'number' ? [{ role, at: c.cutAt }] : []));
}

/** A node's row: its own phases on the first lane, the rest packed below, its cuts as markers. */
function nodeRow(n: ManifestNode): Row {
  const bars = nodeBars(n, n.timeline ?? []);
  const own = bars.filter((b) => NODE_PHASES.has(b.kind as TimelineSpan['phase']));
  const detail = bars.filter((b) => !NODE_PHASES.has(b.kind as TimelineSpan['phase']));
  const markers: Marker[] = cuts(n.commits).map((c) => ({ at: c.at - n.clockOffsetMs, label: `${c.role} cut` }));
  const offset = n.clockOffsetMs ? `, clock ${n.clockOffsetMs > 0 ? '+' : ''}${n.clockOffsetMs} ms` : '';
  return {
    name: n.node,
    caption: `${n.hostname} · ${n.roles.join(', ')}${offset}`,
    lanes: [...packLanes(own), ...packLanes(detail)],
    markers,
    missing: n.timeline ? undefined : 'timeline not recorded (a set written before tandem kept one): only its cut is shown',
  };
}

/** The spread of the cut as the manifest's snapshotSpreadMs measures it: Cassandra's, else any role's. */
function cutSpread(m: Manifest): CutSpread | null {
  const of = (role?: string) => m.nodes.flatMap((n) => cuts(n.commits).filter((c) => !role || c.role === role).map((c) => ({ node: n.node, at: c.at })));
  const cassandra = of('cassandra');
  const points = cassandra.length ? cassandra : of();
  if (points.length < 2) return null;
  const spreadMs = Math.max(...points.map((p) => p.at)) - Math.min(...points.map((p) => p.at));
  return {
    label: cassandra.length ? "Cassandra's snapshot instants (its manifest's created_at, each node's own clock)" : 'the cut instants (each node\'s own clock)',
    points,
    spreadMs: m.snapshotSpreadMs ?? spreadMs,
  };
}

/** The report of one backup set. */
export function backupModel(m: Manifest): ReportModel {
  const started = Date.parse(m.startedAt);
  const completed = Date.parse(m.completedAt);
  const coordinator: Row = {
    name: 'coordinator',
    caption: `tandem ${m.tandemVersion}`,
    lanes: m.phases?.length ? [m.phases.map((p) => ({ kind: p.phase, label: p.phase, start: p.startedAt, end: p.endedAt }))] : [],
    markers: [],
    missing: m.phases?.length ? undefined : 'phases not recorded (an older set, or one finished by tandem recover)',
  };
  const rows = [coordinator, ...m.nodes.map(nodeRow)];
  const { start, end } = extent(rows, [started, completed]);
  const notes = m.nodes.filter((n) => !n.timeline).map((n) => `${n.node}: timeline not recorded; the set was written before tandem kept one.`);
  if (!m.phases?.length) notes.push("The coordinator's phases were not recorded for this set.");
  const facts: [string, string][] = [
    ['backup set', m.id],
    ['started', m.startedAt],
    ['completed', m.completedAt],
    ['duration', formatDuration(m.durationMs)],
    ['size', `${formatBytes(m.bytes)} in ${m.files.length + m.listed.files} files`],
    ['snapshot spread', m.snapshotSpreadMs === null ? 'n/a' : `${m.snapshotSpreadMs} ms`],
    ['across stores', m.crossStoreSpreadMs == null ? 'n/a' : `${m.crossStoreSpreadMs} ms`],
    ['nodes', String(m.nodes.length)],
    ['built on', m.parent ?? 'nothing (a full set)'],
  ];
  for (const n of m.nodes) {
    const archives = (n.timeline ?? []).filter((s) => s.phase === 'archive');
    if (!archives.length) continue;
    // The node's archive rate: all it read, from its first archive's start to its last one's end.
    const sum = (k: 'bytesIn' | 'bytesOut') => archives.reduce((a, s) => a + (s[k] ?? 0), 0);
    const ms = spanWindowMs(archives);
    facts.push([`${n.node} archives`, `${archives.length} tables, ${describeSizes({ bytesIn: sum('bytesIn'), bytesOut: sum('bytesOut') }, ms)} in ${formatDuration(ms)}`]);
  }
  for (const p of m.phases ?? []) facts.push([`coordinator ${p.phase}`, formatDuration(p.endedAt - p.startedAt)]);
  facts.push(['committed', `${m.committedAt} (first cut, coordinator clock)`]);
  return { title: `Backup set ${m.id}`, facts, start, end, rows, cut: cutSpread(m), notes };
}
