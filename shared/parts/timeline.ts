/**
 * Where a backup's time went: spans recorded by each agent (by its own clock) and kept in its
 * part.json and the manifest's node entry, and the coordinator's phases (by its clock) in the
 * manifest. Read back from a destination, they are input like any other: every name is held to
 * its pattern, every number to a range, and the lists are bounded.
 */
import { z } from 'zod';
import { nameSchema, QUALIFIED_TABLE } from '../names';
import { epochMs, PART_ROLES } from './common';

/**
 * What a span of a node's timeline measures:
 * - prepare: Prepare received → answered yes (checks, the roles' set-up);
 * - commit: Commit received → every role's cut taken (answered);
 * - cut: one role's commit (Cassandra's snapshot call, the Elasticsearch snapshot started, the files listed);
 * - snapshot: Cassandra's snapshot request sent → returned, or the Elasticsearch snapshot started → finished;
 * - archive: one Cassandra table's archive, read (bytesIn) and stored (bytesOut);
 * - count: Cassandra's rows counted at the cut, beside the archives;
 * - copy: files copied to the destination (files, bytes);
 * - ship: one role's ship step, from its start to its part (files and bytes it stored);
 * - finish: part.json written and the roles cleaned up (clearsnapshot), until the node reported done
 *   (added by the coordinator from the agent's final status).
 */
export const TIMELINE_PHASES = ['prepare', 'commit', 'cut', 'snapshot', 'archive', 'count', 'copy', 'ship', 'finish'] as const;
/** One kind of span of a node's timeline. */
export type TimelinePhase = (typeof TIMELINE_PHASES)[number];

/** At most this many spans per node (a table's archive is one: --all-keyspaces holds a few hundred). */
export const TIMELINE_MAX_SPANS = 2000;

const count = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** One span of a node's timeline: instants by the agent's clock, ms since the epoch. */
export const timelineSpanSchema = z.strictObject({
  phase: z.enum(TIMELINE_PHASES),
  role: z.enum(PART_ROLES).optional(),
  /** The table of an archive or count, `<keyspace>.<table>`. */
  table: nameSchema('table', QUALIFIED_TABLE).optional(),
  startedAt: epochMs,
  endedAt: epochMs,
  bytesIn: count.optional(),
  bytesOut: count.optional(),
  files: count.optional(),
}).refine((s) => s.endedAt >= s.startedAt, { message: 'endedAt is before startedAt', path: ['endedAt'] });

/** A node's timeline, in the order the spans ended. */
export const timelineSchema = z.array(timelineSpanSchema).max(TIMELINE_MAX_SPANS);

/**
 * The coordinator's phases of a backup run:
 * - preflight: Describe (identity, roles, clocks), the id's check and the parent's choice;
 * - prepare: the Prepare round, until every vote;
 * - commit: the Commit round, until every cut;
 * - shipping: until every node reported its part;
 * - manifest: every part read back and checked, the manifest built (its own write is not in it);
 * - cleanup: Abort on every node, after a failure.
 */
export const RUN_PHASES = ['preflight', 'prepare', 'commit', 'shipping', 'manifest', 'cleanup'] as const;
/** One phase of a coordinator's run. */
export type RunPhase = (typeof RUN_PHASES)[number];

/** One phase of the coordinator's run: instants by its clock, ms since the epoch. */
export const runPhaseSchema = z.strictObject({
  phase: z.enum(RUN_PHASES),
  startedAt: epochMs,
  endedAt: epochMs,
}).refine((s) => s.endedAt >= s.startedAt, { message: 'endedAt is before startedAt', path: ['endedAt'] });

/** The coordinator's phases, in order. */
export const runPhasesSchema = z.array(runPhaseSchema).max(RUN_PHASES.length);

export type TimelineSpan = z.output<typeof timelineSpanSchema>;

/** From the first span's start to the last one's end, ms (0 for none): e.g. a node's archives, run several at a time. */
export function spanWindowMs(spans: readonly Pick<TimelineSpan, 'startedAt' | 'endedAt'>[]): number {
  return spans.length ? Math.max(...spans.map((s) => s.endedAt)) - Math.min(...spans.map((s) => s.startedAt)) : 0;
}
export type RunPhaseSpan = z.output<typeof runPhaseSchema>;
