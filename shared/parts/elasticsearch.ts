/**
 * The elasticsearch role's records. The snapshot's data stays in Elasticsearch's repository (of an
 * encrypted set: its staging repository's files are stored in the set); the part says which
 * snapshot it is, what it held, and where its self-describing record (`snapshot.json`) is at the
 * destination.
 */
import { z } from 'zod';
import { ES_INDEX, ES_REPOSITORY, ES_SNAPSHOT, nameSchema } from '../names';
import { epochMs, fileRef } from './common';

/** One concrete index or alias name: a comma would make it a list of indices on the wire, `*` a pattern. */
const index = nameSchema('Elasticsearch index name', ES_INDEX);
const repository = nameSchema('Elasticsearch repository name', ES_REPOSITORY);
const snapshot = nameSchema('Elasticsearch snapshot name', ES_SNAPSHOT);

/** The index was left out of the backup (`--skip-index`). */
const skippedSchema = z.strictObject({ skipped: z.literal(true), reason: z.string() });

/** What Commit recorded: the snapshot started at the cut. */
export const esCommitSchema = z.union([
  z.strictObject({
    cutAt: epochMs,
    repository,
    snapshot,
    indices: z.array(index),
    docCounts: z.record(index, z.int().nonnegative()),
  }),
  skippedSchema,
]);

/** The snapshot as it finished, also written to `snapshot.json`. */
export const esSnapshotRecordSchema = z.strictObject({
  format: z.literal('tandem.es-snapshot/v1'),
  url: z.string(),
  repository: z.strictObject({ name: repository, type: z.string().optional(), location: z.string().optional() }),
  snapshot,
  uuid: z.string().optional(),
  state: z.string().optional(),
  esVersion: z.string().optional(),
  indices: z.array(index),
  shards: z.strictObject({ total: z.int(), successful: z.int(), failed: z.int() }).partial().optional(),
  docCounts: z.record(index, z.int().nonnegative()),
  /** Aliases of each index at backup time. */
  aliases: z.record(index, z.array(index)),
  cutAt: epochMs,
  startTime: z.number().optional(),
  endTime: z.number().optional(),
  durationMs: z.number().optional(),
  /** Bytes the snapshot added to the repository, and its whole size (segments shared with earlier snapshots included). */
  sizes: z.strictObject({ addedBytes: z.int().nonnegative(), totalBytes: z.int().nonnegative() }).optional(),
  /**
   * Of an encrypted set: the snapshot was taken into a staging repository of its own, whose files
   * are stored in the set (encrypted, under `repository/`); `files` are their plain names, sizes
   * and sha256. The staging repository is gone once they are stored: a restore stages them back.
   */
  staged: z.strictObject({ files: z.array(fileRef).min(1), bytes: z.int().nonnegative() }).optional(),
});

/** The elasticsearch part of one node. */
export const esPartSchema = z.union([
  esSnapshotRecordSchema.extend({ record: fileRef, summary: z.string() }),
  skippedSchema.extend({ summary: z.string() }),
]);

export type EsCommit = z.output<typeof esCommitSchema>;
export type EsSnapshotRecord = z.output<typeof esSnapshotRecordSchema>;
export type EsPart = z.output<typeof esPartSchema>;
