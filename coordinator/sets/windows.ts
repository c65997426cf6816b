/**
 * The recoverable windows `tandem list` shows: from a complete set's Cassandra cut, how far the
 * commitlog capture of every Cassandra node of that set reaches without a gap. Plain inputs (the
 * sets' cut instants, the nodes' capture summaries of capture-windows.ts), so the computation is
 * checked on its own. It is a listing of what the capture holds, not a promise of a replay:
 * nothing here reads a piece, and `tandem restore` does not replay the capture yet.
 */
import { nodesWith, type Manifest } from '../../shared/manifest';

/**
 * Where a node's capture cannot be vouched for: whole up to `after` (null: not even from its
 * start), and only windows starting before `before` (null: every window) are concerned. A gap
 * lost what was written after the last piece stored before the capture found it (`before`); a
 * refused line hides what lies between the last trusted instant before it and the first after it.
 */
export interface CaptureBreak {
  kind: 'gap' | 'problem';
  after: string | null;
  before: string | null;
  what: string;
}

/** One recorded gap of a node, as read from its signed line. */
export interface CaptureGap {
  at: string;
  kind: 'vanished' | 'skipped' | 'offset-went-back';
  segment?: string;
  shipped?: number;
  fromId?: string;
  toId?: string;
  detail: string;
}

/** One node's capture, from its trusted lines only. */
export interface NodeCapture {
  cluster: string;
  node: string;
  /** The first trusted piece's storedAt; null when none. */
  capturedFrom: string | null;
  /** The newest trusted piece's storedAt; null when none. */
  capturedTo: string | null;
  segments: number;
  /** Bytes of the segments the trusted lines name. */
  bytes: number;
  gaps: CaptureGap[];
  /** Lines or files refused, naming the file: nothing after a refused line of a file is used. */
  problems: { file: string; detail: string }[];
  breaks: CaptureBreak[];
}

/** A complete set as the windows need it: its Cassandra nodes and each one's snapshot instant (ms). */
export interface SetCut {
  id: string;
  nodes: { node: string; cutAt: number }[];
}

/** A recoverable window: from set `set`'s cut to `to`, on every node of `nodes` of `cluster`. */
export interface CaptureWindow {
  cluster: string;
  set: string;
  /** The set's cut: the latest Cassandra snapshot instant among its nodes. */
  from: string;
  to: string;
  nodes: string[];
  /** What ends the window: the capture's end on a node, a gap, or a refused line. */
  edge: { kind: 'capture-end' | 'gap' | 'problem'; node: string; what: string };
}

/** The set's Cassandra nodes and their snapshot instants (commits.cassandra.cutAt, Cassandra's created_at). */
export function setCut(m: Manifest): SetCut {
  return { id: m.id, nodes: nodesWith(m, 'cassandra').flatMap((n) => (n.commits.cassandra ? [{ node: n.node, cutAt: n.commits.cassandra.cutAt }] : [])) };
}

const ms = (s: string | null, none: number): number => (s === null ? none : Date.parse(s));

/**
 * Every window, per cluster of the capture and per set, oldest cut first. A set opens one when
 * each of its Cassandra nodes has a capture in the cluster whose first trusted piece was stored at
 * or before that node's snapshot; the window runs from the set's cut (the latest of its nodes'
 * snapshots) to the earliest `capturedTo` among those nodes, cut short at the first break of any
 * of them that concerns it (the break's `after`, never before the cut). An empty window is left out.
 */
export function captureWindows(sets: readonly SetCut[], captures: readonly NodeCapture[]): CaptureWindow[] {
  const out: CaptureWindow[] = [];
  const clusters = [...new Set(captures.map((c) => c.cluster))].sort();
  for (const cluster of clusters) {
    for (const set of sets) {
      if (!set.nodes.length) continue;
      const of = set.nodes.map((n) => ({ cut: n, capture: captures.find((c) => c.cluster === cluster && c.node === n.node) }));
      if (!of.every(({ cut, capture }) => capture?.capturedFrom != null && Date.parse(capture.capturedFrom) <= cut.cutAt)) continue;
      const from = Math.max(...set.nodes.map((n) => n.cutAt));
      let to = Infinity;
      let edge: CaptureWindow['edge'] | undefined;
      for (const { capture } of of) {
        const c = capture!;
        const end = ms(c.capturedTo, -Infinity);
        if (end < to) [to, edge] = [end, { kind: 'capture-end', node: c.node, what: `capture of ${c.node} ends at ${c.capturedTo}` }];
        for (const b of c.breaks) {
          if (ms(b.before, Infinity) <= from) continue;
          const cut = Math.max(from, ms(b.after, -Infinity));
          if (cut < to) [to, edge] = [cut, { kind: b.kind, node: c.node, what: b.what }];
        }
      }
      if (to > from && edge) out.push({ cluster, set: set.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), nodes: set.nodes.map((n) => n.node), edge });
    }
  }
  return out.sort((a, b) => a.cluster.localeCompare(b.cluster) || a.from.localeCompare(b.from) || a.set.localeCompare(b.set));
}
