/**
 * The capture's progress, in a durable file of the agent's state folder
 * (`<stateDir>/capture/progress.json`): for every segment of cdc_raw it has seen, how many bytes
 * are shipped and the pieces that hold them, and the gaps found. Written (shared/durable-file)
 * after every piece is stored and before the piece counts as shipped, so a restart of the agent
 * resumes at the first byte not recorded, and a piece stored but not recorded is found at the
 * destination and adopted (ship.ts), never stored twice.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ProgressFile } from '../../../../shared/capture/progress-file';
import { SEGMENT_NAME } from './segment';

const offset = z.number().int().min(0).max(2 ** 31 - 1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const decimalId = z.string().regex(/^\d{1,19}$/);

/**
 * One stored piece of a segment: bytes [start, end), their sha256, when they were stored (ms),
 * and for an encrypted capture what is stored (the data key's id, the age file's size and sha256).
 */
export const pieceSchema = z.strictObject({
  start: offset,
  end: offset,
  sha256,
  storedAt: z.number().int().min(0),
  sealed: z.strictObject({ key: z.string().regex(/^[0-9a-f]{32}$/), size: z.number().int().min(1), sha256 }).optional(),
});
/** A stored piece. */
export type Piece = z.output<typeof pieceSchema>;

/** What the capture knows of one segment of cdc_raw. */
export const segmentProgressSchema = z.strictObject({
  /** The segment id (decimal: ids pass 2^53). */
  id: decimalId,
  /** Bytes [0, shipped) are stored, in `pieces`. */
  shipped: offset,
  /** The largest durable offset its _cdc.idx gave (0 without one). */
  durable: offset,
  /** It had a _cdc.idx when last seen: it holds CDC mutations, and its loss is a gap. */
  cdc: z.boolean(),
  /** Cassandra is done with it (COMPLETED, or its commitlog file is gone): its last durable offset is final. */
  final: z.boolean(),
  /** The pieces stored, in offset order, each starting where the one before ends. */
  pieces: z.array(pieceSchema),
});
/** What the capture knows of one segment. */
export type SegmentProgress = z.output<typeof segmentProgressSchema>;

/** Why the capture has a hole: what a recovery must not bridge. */
export const gapSchema = z.strictObject({
  /** When the capture found it (ms since the epoch). */
  at: z.number().int().min(0),
  /**
   * vanished: a segment with CDC mutations left cdc_raw before all its durable bytes were stored;
   * skipped: segment ids between two that were seen never appeared in cdc_raw (the agent was
   * down, or Cassandra restarted: ids restart from its clock);
   * offset-went-back: a _cdc.idx offset fell below what was stored (the segment was replaced).
   */
  kind: z.enum(['vanished', 'skipped', 'offset-went-back']),
  /** The segment concerned (vanished, offset-went-back). */
  segment: z.string().regex(SEGMENT_NAME).optional(),
  /** Bytes stored of it (vanished, offset-went-back). */
  shipped: offset.optional(),
  /** The first and last ids never seen (skipped). */
  fromId: decimalId.optional(),
  toId: decimalId.optional(),
  /** What the operator reads. */
  detail: z.string().max(500),
});
/** A recorded gap. */
export type Gap = z.output<typeof gapSchema>;

/** The progress file's schema. */
export const progressSchema = z.strictObject({
  version: z.literal(1),
  /** The largest segment id seen, or null before the first. */
  lastSegmentId: decimalId.nullable(),
  /** Segments seen and not yet done (done: stored whole, removed from cdc_raw). */
  segments: z.record(z.string().regex(SEGMENT_NAME), segmentProgressSchema),
  /** Every gap found, oldest first. */
  gaps: z.array(gapSchema),
});
/** The capture's progress. */
export type Progress = z.output<typeof progressSchema>;

/** The progress of a capture that has seen nothing yet. */
export const emptyProgress = (): Progress => ({ version: 1, lastSegmentId: null, segments: {}, gaps: [] });

/** The progress file of the capture under the agent's state folder. */
export class ProgressStore extends ProgressFile<typeof progressSchema> {
  constructor(stateDir: string) {
    super(join(stateDir, 'capture', 'progress.json'), progressSchema, emptyProgress, 'a gap will be recorded from the first segment seen');
  }
}
