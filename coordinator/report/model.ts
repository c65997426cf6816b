/**
 * What a run report shows, independent of how it is drawn: one row per node (and one for the
 * coordinator) with its bars on lanes, instants as markers, the spread of the cut, totals. Every
 * instant is the coordinator's, ms since the epoch: an agent's instants are moved onto its clock
 * with the node's clockOffsetMs (estimated at Describe).
 */

/** What a bar stands for; drawn in its own colour. */
export type BarKind =
  | 'preflight' | 'prepare' | 'commit' | 'shipping' | 'manifest' | 'cleanup'
  | 'cut' | 'snapshot' | 'archive' | 'count' | 'copy' | 'ship' | 'finish'
  | 'fetch' | 'schema' | 'load' | 'verify' | 'failed';

/** One span of time on a row. */
export interface Bar {
  kind: BarKind;
  /** The text drawn on the bar when it fits, and first in its row of the details table. */
  label: string;
  /** Coordinator instants, ms since the epoch. */
  start: number;
  end: number;
  bytesIn?: number;
  bytesOut?: number;
  files?: number;
  /** More for the tooltip and the details table (what the roles said). */
  note?: string;
}

/** An instant on a row (a cut). */
export interface Marker {
  at: number;
  label: string;
}

/** One horizontal timeline: a node's, or the coordinator's. */
export interface Row {
  name: string;
  /** What the row is (host, roles, clock offset). */
  caption: string;
  /** Bars that never overlap, lane by lane; the first lane holds the node's own phases. */
  lanes: Bar[][];
  markers: Marker[];
  /** Said in the row when it has no bars (a timeline not recorded). */
  missing?: string;
}

/** How far apart the nodes took their cut, drawn to scale in a zoomed inset. */
export interface CutSpread {
  /** What the instants are (Cassandra's snapshot created_at, each by its node's clock). */
  label: string;
  points: { node: string; at: number }[];
  spreadMs: number;
}

/** Everything a report draws. */
export interface ReportModel {
  title: string;
  /** Totals and facts, as label → value. */
  facts: [string, string][];
  /** The time axis: coordinator instants, ms since the epoch. */
  start: number;
  end: number;
  rows: Row[];
  cut: CutSpread | null;
  /** Said under the timeline (what was not recorded, problems). */
  notes: string[];
}

/**
 * Bars packed onto as few lanes as they need: each goes onto the first lane whose last bar ended
 * by its start (tables archived two at a time take two lanes).
 */
export function packLanes(bars: readonly Bar[]): Bar[][] {
  const lanes: Bar[][] = [];
  for (const b of [...bars].sort((x, y) => x.start - y.start || x.end - y.end)) {
    const lane = lanes.find((l) => l[l.length - 1].end <= b.start);
    if (lane) lane.push(b);
    else lanes.push([b]);
  }
  return lanes;
}

/** The earliest and latest instant of the rows (bars and markers) and of `also`. */
export function extent(rows: readonly Row[], also: number[] = []): { start: number; end: number } {
  const all = [...also, ...rows.flatMap((r) => [...r.lanes.flat().flatMap((b) => [b.start, b.end]), ...r.markers.map((m) => m.at)])].filter((t) => Number.isFinite(t) && t > 0);
  if (!all.length) return { start: 0, end: 1 };
  const start = Math.min(...all);
  // An axis of zero length cannot be drawn: one ms at least.
  return { start, end: Math.max(start + 1, ...all) };
}
