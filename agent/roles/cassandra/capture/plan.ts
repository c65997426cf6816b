/**
 * What the capture does after one look at cdc_raw, decided without I/O: which byte ranges to
 * store, which segments are done, which gaps to record. The rules:
 *
 * - a segment's bytes [shipped, durable) are stored, durable being its _cdc.idx offset;
 * - a segment is final when its _cdc.idx says COMPLETED, or when Cassandra's commitlog folder no
 *   longer holds it (its hard link in cdc_raw is the last one: Cassandra discarded it, as after a
 *   crash and replay, when no COMPLETED is ever written); a final segment stored up to its
 *   durable offset is done, and is removed from cdc_raw;
 * - a segment with CDC mutations that leaves cdc_raw before it is done is a `vanished` gap;
 * - ids are consecutive while Cassandra runs: ids between the last one seen and a new one that
 *   never appeared are a `skipped` gap (the agent was down while Cassandra dropped them, or
 *   Cassandra restarted and its ids jumped to its clock; the capture cannot tell which).
 */
import type { Gap, Progress, SegmentProgress } from './progress';
import type { Scan } from './scan';

/** A byte range of a segment to store. */
export interface ShipStep {
  segment: string;
  start: number;
  end: number;
}

/** What one look calls for. */
export interface CapturePlan {
  /** The progress with this look taken in: new segments, offsets, gaps; nothing stored yet. */
  progress: Progress;
  /** The gaps found by this look (already in progress.gaps). */
  gaps: Gap[];
  /** The ranges to store, by segment id. */
  ship: ShipStep[];
  /** Segments done once their ranges are stored: removed from cdc_raw then. */
  finish: string[];
  /** _cdc.idx files left without their segment and not needed: removed. */
  strayIndexes: string[];
}

/** The largest piece stored at once; a longer range is split (a piece is read into memory). */
export const MAX_PIECE_BYTES = 8 * 1024 * 1024;

/** Splits [start, end) into pieces of at most `max` bytes. */
export function splitRange(segment: string, start: number, end: number, max = MAX_PIECE_BYTES): ShipStep[] {
  const steps: ShipStep[] = [];
  for (let s = start; s < end; s += max) steps.push({ segment, start: s, end: Math.min(end, s + max) });
  return steps;
}

/** Whether a segment needs nothing more: final and stored up to its durable offset. */
export const isDone = (s: SegmentProgress): boolean => s.final && s.shipped >= s.durable;

/** Decides what to do after `scan`, from `before` (not modified). */
export function planCapture(before: Progress, scan: Scan): CapturePlan {
  const progress: Progress = structuredClone(before);
  const gaps: Gap[] = [];
  const gap = (g: Omit<Gap, 'at'>) => {
    const full = { at: scan.at, ...g };
    gaps.push(full);
    progress.gaps.push(full);
  };
  const seen = new Map(scan.segments.map((s) => [s.name, s]));

  for (const [name, rec] of Object.entries(progress.segments)) {
    if (seen.has(name)) continue;
    if (rec.cdc && !isDone(rec)) {
      gap({
        kind: 'vanished', segment: name, shipped: rec.shipped,
        detail: `${name} left cdc_raw with ${rec.shipped} bytes stored${rec.final ? ` of ${rec.durable}` : ', before Cassandra completed it'}: removed by another hand, or by Cassandra with cdc_block_writes: false when cdc_raw passed cdc_total_space`,
      });
    }
    delete progress.segments[name];
  }

  let last = progress.lastSegmentId === null ? null : BigInt(progress.lastSegmentId);
  for (const s of scan.segments) {
    if (progress.segments[s.name]) continue;
    if (last !== null && s.id > last) {
      if (s.id > last + 1n) {
        gap({
          kind: 'skipped', fromId: String(last + 1n), toId: String(s.id - 1n),
          detail: `segment ids ${last + 1n}..${s.id - 1n} never appeared in cdc_raw: the agent was not capturing while Cassandra wrote and dropped them, or Cassandra restarted (its ids start again from its clock)`,
        });
      }
    }
    if (last === null || s.id > last) last = s.id;
    progress.segments[s.name] = { id: String(s.id), shipped: 0, durable: 0, cdc: false, final: false, pieces: [] };
  }
  progress.lastSegmentId = last === null ? null : String(last);

  const ship: ShipStep[] = [];
  const finish: string[] = [];
  for (const s of scan.segments) {
    const rec = progress.segments[s.name];
    if (s.index) rec.cdc = true;
    // A segment with CDC data whose _cdc.idx was not read whole this time: its final offset is not known; the next look reads it.
    else if (rec.cdc) continue;
    const durable = s.index?.durable ?? 0;
    const final = (s.index?.completed ?? false) || !s.linked;
    if (durable < rec.shipped) {
      // A rewrite of _cdc.idx read half-way shows fewer digits: only a final segment's word is trusted.
      if (final && s.index) {
        gap({ kind: 'offset-went-back', segment: s.name, shipped: rec.shipped, detail: `${s.name}'s _cdc.idx says ${durable} bytes are durable, fewer than the ${rec.shipped} stored: the segment was replaced; its stored bytes are kept, the rest is not trusted` });
        rec.final = true;
        rec.durable = rec.shipped;
        finish.push(s.name);
      }
      continue;
    }
    rec.durable = Math.max(rec.durable, durable);
    rec.final = final;
    // The file is preallocated; a shorter one than its offset is being replaced: the next look sees which.
    if (rec.durable > rec.shipped && s.size >= rec.durable) ship.push(...splitRange(s.name, rec.shipped, rec.durable));
    if (rec.cdc && rec.final && s.size >= rec.durable) finish.push(s.name);
  }

  const strayIndexes = scan.strayIndexes.filter((idx) => {
    const seg = `${idx.slice(0, -'_cdc.idx'.length)}.log`;
    return !progress.segments[seg];
  });
  return { progress, gaps, ship, finish, strayIndexes };
}
