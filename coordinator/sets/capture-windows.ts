/**
 * What the commitlog capture at the destination covers, node by node (`tandem_capture/`, the
 * layout of shared/destination/layout.ts), read the way a recovery would read it but without a
 * piece's content: every segment's index and the node's gaps, each line's signature checked
 * against the agent certificates stored there and the fleet's CA (shared/capture). A line that
 * does not check, or that does not follow the one before it, is a problem naming its file, and
 * nothing after it in that file is used: what the listing says is covered, a recovery can vouch
 * for. The windows these summaries and the complete sets make are computed in windows.ts.
 */
import type { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { destinationTrust } from '../../shared/capture/agent-certs';
import { openLine, type LineTrust } from '../../shared/capture/signed-line';
import type { Destination } from '../../shared/destination';
import { CAPTURE_ROOT, captureGapsPath, captureIndexPath, captureNodeFolder, COMMITLOG_SEGMENT } from '../../shared/destination/layout';
import { errorMessage, NotFoundError } from '../../shared/errors';
import { NODE_NAME } from '../../shared/names';
import { runPool } from '../../shared/pool';
import type { CaptureBreak, NodeCapture } from './windows';

/** An index of a few thousand pieces is well under this (as the restore side's reader). */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
/** A node records a gap for an outage or a restart: tens of thousands would be a file that is not the capture's. */
const MAX_GAPS_BYTES = 8 * 1024 * 1024;
/** Segments of one node read at most: 32 MiB each, months of a busy node; beyond it the listing says so. */
const MAX_SEGMENTS = 50_000;
/** Indexes read at once: a remote destination answers each in a round trip. */
const PARALLELISM = 8;

const instant = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'not an instant');
const common = { segment: z.string(), start: z.number().int().min(0), end: z.number().int().min(1), storedAt: instant };
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const pieceLine = z.union([
  z.strictObject({ ...common, sha256 }),
  z.strictObject({ ...common, key: z.string().regex(/^[0-9a-f]{32}$/), stored: z.strictObject({ size: z.number().int().min(1), sha256 }) }),
]);
const gapLine = z.strictObject({
  at: instant,
  kind: z.enum(['vanished', 'skipped', 'offset-went-back']),
  segment: z.string().regex(COMMITLOG_SEGMENT).optional(),
  shipped: z.number().int().min(0).optional(),
  fromId: z.string().regex(/^\d{1,19}$/).optional(),
  toId: z.string().regex(/^\d{1,19}$/).optional(),
  detail: z.string().max(500),
});

/** What one segment's index gave: the instants of its trusted pieces, its bytes, and the line refused (nothing after it is used). */
interface SegmentRead {
  segment: string;
  id: bigint;
  storedAt: number[];
  bytes: number;
  refused?: { file: string; detail: string };
  /** No index at all: pieces stored and the index not written yet (the agent writes it after each piece), or lost. */
  noIndex?: boolean;
}

const segmentId = (name: string): bigint => BigInt(/-(\d+)\.log$/.exec(name)![1]);
const parseIssue = (e: z.ZodError) => `${e.issues[0]?.path.join('.') || 'line'}: ${e.issues[0]?.message}`;

async function readSegment(dest: Destination, trust: LineTrust, cluster: string, node: string, segment: string): Promise<SegmentRead> {
  const file = captureIndexPath(cluster, node, segment);
  const out: SegmentRead = { segment, id: segmentId(segment), storedAt: [], bytes: 0 };
  let text: string;
  try {
    text = (await dest.readSmall(file, MAX_INDEX_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof NotFoundError) return { ...out, noIndex: true, refused: { file, detail: 'the segment has no index, though later segments have pieces: its pieces are not vouched for' } };
    return { ...out, refused: { file, detail: errorMessage(err) } };
  }
  let at = 0;
  for (const [i, line] of text.split('\n').filter((l) => l !== '').entries()) {
    const where = `${file} line ${i + 1}`;
    try {
      const r = pieceLine.safeParse(await openLine(trust, 'piece', cluster, node, line, where));
      if (!r.success) throw new Error(`${where}: ${parseIssue(r.error)}`);
      const p = r.data;
      if (p.segment !== segment) throw new Error(`${where} names segment ${JSON.stringify(p.segment)}, not ${segment}`);
      if (p.start !== at || p.end <= p.start) throw new Error(`${where} holds [${p.start}, ${p.end}), but the pieces before it end at ${at}: the index has a hole or an overlap`);
      out.storedAt.push(Date.parse(p.storedAt));
      out.bytes += p.end - p.start;
      at = p.end;
    } catch (err) {
      return { ...out, refused: { file, detail: errorMessage(err) } };
    }
  }
  return out;
}

/** The node's gaps as breaks (a refused line is one too, over what is unknown), with the lines as read. */
async function readGaps(dest: Destination, trust: LineTrust, cluster: string, node: string): Promise<{ gaps: NodeCapture['gaps']; refused?: { file: string; detail: string; after: number | null; before: number | null } }> {
  const file = captureGapsPath(cluster, node);
  let text: string;
  try {
    text = (await dest.readSmall(file, MAX_GAPS_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof NotFoundError) return { gaps: [] };
    return { gaps: [], refused: { file, detail: errorMessage(err), after: null, before: null } };
  }
  const gaps: NodeCapture['gaps'] = [];
  const lines = text.split('\n').filter((l) => l !== '');
  for (const [i, line] of lines.entries()) {
    const where = `${file} line ${i + 1}`;
    try {
      const r = gapLine.safeParse(await openLine(trust, 'gap', cluster, node, line, where));
      if (!r.success) throw new Error(`${where}: ${parseIssue(r.error)}`);
      const { at, ...rest } = r.data;
      const ms = Date.parse(at);
      if (gaps.length && ms < Date.parse(gaps[gaps.length - 1].at)) throw new Error(`${where} is older than the line before it: gaps are recorded oldest first`);
      gaps.push({ ...rest, at: new Date(ms).toISOString() });
    } catch (err) {
      // The gaps are oldest first: what the refused line hides lies after the gap before it.
      return { gaps, refused: { file, detail: errorMessage(err), after: gaps.length ? Date.parse(gaps[gaps.length - 1].at) : null, before: null } };
    }
  }
  return { gaps };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
/** Smallest and largest of many instants (a spread of a long capture's would pass the argument limit). */
const least = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => (b < a ? b : a)) : null);
const most = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => (b > a ? b : a)) : null);

/** The newest instant of `instants` before `t`; null when none. */
function lastBefore(instants: readonly number[], t: number): number | null {
  let best: number | null = null;
  for (const s of instants) if (s < t && (best === null || s > best)) best = s;
  return best;
}

/** One node's capture summarised; `trust` null (no fleet CA) refuses the node whole. */
export async function readNodeCapture(dest: Destination, trust: LineTrust | null, cluster: string, node: string): Promise<NodeCapture> {
  const summary: NodeCapture = { cluster, node, capturedFrom: null, capturedTo: null, segments: 0, bytes: 0, gaps: [], problems: [], breaks: [] };
  if (!trust) {
    summary.problems.push({ file: captureNodeFolder(cluster, node), detail: 'the fleet file has no tls.ca: the capture\'s signatures cannot be checked, so none of it is used' });
    summary.breaks.push({ kind: 'problem', after: null, before: null, what: 'capture not checked (no tls.ca)' });
    return summary;
  }
  const folder = `${captureNodeFolder(cluster, node)}/commitlog`;
  let names = (await dest.folders(folder)).filter((s) => COMMITLOG_SEGMENT.test(s));
  if (names.length > MAX_SEGMENTS) {
    summary.problems.push({ file: folder, detail: `${names.length} segments, more than the ${MAX_SEGMENTS} a listing reads: only the newest ${MAX_SEGMENTS} are summarised` });
    names = names.sort((a, b) => (segmentId(a) < segmentId(b) ? -1 : 1)).slice(-MAX_SEGMENTS);
  }
  const segments = (await runPool(names, PARALLELISM, undefined, (s) => readSegment(dest, trust, cluster, node, s))).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const instants = segments.flatMap((s) => s.storedAt);
  summary.segments = segments.length;
  summary.bytes = segments.reduce((n, s) => n + s.bytes, 0);
  summary.capturedFrom = iso(least(instants));
  summary.capturedTo = iso(most(instants));
  for (const [i, s] of segments.entries()) {
    if (!s.refused) continue;
    const later = segments.slice(i + 1).flatMap((e) => e.storedAt);
    // The newest segments without an index are the capture's tail being written: nothing of them is counted, nothing missing before them.
    if (s.noIndex && !later.length) continue;
    summary.problems.push(s.refused);
    // The refused bytes were written after the segment's last trusted piece (or, with none, after the
    // segments before it) and before the next segment's first piece: Cassandra writes one segment at a time.
    const earlier = segments.slice(0, i).flatMap((e) => e.storedAt);
    summary.breaks.push({ kind: 'problem', after: iso(most(s.storedAt) ?? most(earlier)), before: iso(least(later)), what: `refused: ${s.refused.file}` });
  }
  const g = await readGaps(dest, trust, cluster, node);
  summary.gaps = g.gaps;
  for (const gap of g.gaps) {
    // What a gap lost was written after the last piece stored before the capture found it.
    const at = Date.parse(gap.at);
    summary.breaks.push({ kind: 'gap', after: iso(lastBefore(instants, at)), before: gap.at, what: `gap ${gap.kind} at ${gap.at}${gap.segment ? ` (${gap.segment})` : gap.fromId ? ` (segments ${gap.fromId}-${gap.toId})` : ''}: ${gap.detail}` });
  }
  if (g.refused) {
    summary.problems.push({ file: g.refused.file, detail: g.refused.detail });
    summary.breaks.push({ kind: 'problem', after: iso(g.refused.after === null ? null : lastBefore(instants, g.refused.after)), before: null, what: `refused: ${g.refused.file}` });
  }
  return summary;
}

/**
 * Every node's capture at `dest` (cluster, then node, sorted); [] when there is no capture folder.
 * `ca` gives the fleet's CA (null: none configured), asked only when there is a capture to check.
 */
export async function readCapture(dest: Destination, ca: () => X509Certificate | null): Promise<NodeCapture[]> {
  const clusters = (await dest.folders(CAPTURE_ROOT)).filter((c) => NODE_NAME.test(c));
  if (!clusters.length) return [];
  const fleetCa = ca();
  const trust = fleetCa ? destinationTrust(dest, fleetCa) : null;
  const out: NodeCapture[] = [];
  for (const cluster of clusters) {
    for (const node of (await dest.folders(`${CAPTURE_ROOT}/${cluster}`)).filter((n) => NODE_NAME.test(n))) {
      // A node whose capture is of its file store only (files/, no commitlog/) is not a Cassandra node's.
      if (!(await dest.folders(captureNodeFolder(cluster, node))).includes('commitlog')) continue;
      out.push(await readNodeCapture(dest, trust, cluster, node));
    }
  }
  return out;
}

export type { CaptureBreak, NodeCapture };
