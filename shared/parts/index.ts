/**
 * Each role's part of a backup set, one schema per role: the role's ship step writes it, and
 * restore, plan, verify and show parse it. `part.json` is one node's record of a backup, written
 * by its agent at `<id>/<node>/part.json`; the coordinator reads it back, checks it and puts it
 * into the manifest.
 */
import { z } from 'zod';
import { ROLE_NAMES } from '../contract';
import { cassandraCommitSchema, cassandraPartSchema } from './cassandra';
import { fileRef } from './common';
import { esCommitSchema, esPartSchema } from './elasticsearch';
import { filesCommitSchema, filesPartSchema } from './files';
import { rehearsalCommitSchema, rehearsalPartSchema } from './rehearsal';

export * from './common';

/** Role names a backup set can hold parts of: the production roles and the protocol's test role. */
export const PART_ROLES = [...ROLE_NAMES, 'rehearsal'] as const;
/** A role that holds a part of a backup set. */
export type PartRole = (typeof PART_ROLES)[number];

/** Every role's commit record, by role. */
export const commitsSchema = z.strictObject({
  cassandra: cassandraCommitSchema.optional(),
  elasticsearch: esCommitSchema.optional(),
  files: filesCommitSchema.optional(),
  rehearsal: rehearsalCommitSchema.optional(),
});

/** Every role's part, by role. */
export const partsSchema = z.strictObject({
  cassandra: cassandraPartSchema.optional(),
  elasticsearch: esPartSchema.optional(),
  files: filesPartSchema.optional(),
  rehearsal: rehearsalPartSchema.optional(),
});

/** A file of the set, with the node and role that stored it. */
export const setFileSchema = fileRef.extend({
  node: z.string(),
  role: z.enum([...PART_ROLES, 'node']),
});

/** Files and bytes that listings (attachments) hold beyond the set's own files. */
export const listedTotalsSchema = z.strictObject({ files: z.int().nonnegative(), bytes: z.int().nonnegative() });

/** The format of part.json. */
export const NODE_PART_FORMAT = 'tandem.node-part/v1';

/** `<id>/<node>/part.json`: one node's record of a backup. */
export const nodePartSchema = z.strictObject({
  format: z.literal(NODE_PART_FORMAT),
  backupId: z.string(),
  node: z.string(),
  /** When the agent took its cut, by its clock, ms since the epoch. */
  committedAt: z.number().int(),
  commits: commitsSchema,
  parts: partsSchema,
  /** The files this node stored, listings included, attachments not (they are in the listings). */
  files: z.array(setFileSchema),
  listed: listedTotalsSchema,
});

export type Commits = z.output<typeof commitsSchema>;
export type Parts = z.output<typeof partsSchema>;
export type SetFile = z.output<typeof setFileSchema>;
export type NodePart = z.output<typeof nodePartSchema>;
export type ListedTotals = z.output<typeof listedTotalsSchema>;

/** The part and commit schemas of a role, for the agent to check what its roles return. */
export const ROLE_SCHEMAS: Record<PartRole, { commit: z.ZodType; part: z.ZodType }> = {
  cassandra: { commit: cassandraCommitSchema, part: cassandraPartSchema },
  elasticsearch: { commit: esCommitSchema, part: esPartSchema },
  files: { commit: filesCommitSchema, part: filesPartSchema },
  rehearsal: { commit: rehearsalCommitSchema, part: rehearsalPartSchema },
};
