/**
 * Each role's part of a backup set, one schema per role: the role's ship step writes it, and
 * restore, plan, verify and show parse it. `part.json` is one node's record of a backup, written
 * by its agent at `<id>/<node>/part.json`; the coordinator reads it back, checks it and puts it
 * into the manifest.
 */
import { z } from 'zod';
import { nodePrefix } from '../destination/layout';
import { BACKUP_ID, nameSchema, NODE_NAME } from '../names';
import { cassandraCommitSchema, cassandraPartSchema } from './cassandra';
import { fileRef, PART_ROLES, type PartRole } from './common';
import { esCommitSchema, esPartSchema } from './elasticsearch';
import { filesCommitSchema, filesPartSchema } from './files';
import { rehearsalCommitSchema, rehearsalPartSchema } from './rehearsal';
import { timelineSchema } from './timeline';

export * from './common';
export * from './timeline';

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

/** A node name read back from a backup set: it becomes a folder and is matched against the fleet. */
export const nodeName = nameSchema('node name', NODE_NAME);
/** A backup id read back from a backup set. */
export const backupIdName = nameSchema('backup id', BACKUP_ID);

/** A file of the set, with the node and role that stored it. */
export const setFileSchema = fileRef.extend({
  node: nodeName,
  role: z.enum([...PART_ROLES, 'node']),
});

/** A file stored by an earlier set (`<set>/<node>/…`) that a later set needs. */
export const referencedFileSchema = setFileSchema.extend({ set: backupIdName });

/** Files and bytes that listings (attachments) hold beyond the set's own files. */
export const listedTotalsSchema = z.strictObject({ files: z.int().nonnegative(), bytes: z.int().nonnegative() });

/** The format of part.json. */
export const NODE_PART_FORMAT = 'tandem.node-part/v1';

/**
 * Every file a node's parts point at, with where the reference is: a node stores its files in
 * `<id>/<node>/` and nowhere else, so a reference leaving that folder (another set, another node)
 * is refused wherever a part is read.
 */
export function partRefs(parts: Parts): { at: (string | number)[]; path: string }[] {
  const out: { at: (string | number)[]; path: string }[] = [];
  const c = parts.cassandra;
  if (c) {
    c.tables.forEach((t, i) => out.push({ at: ['cassandra', 'tables', i, 'path'], path: t.path }));
    out.push({ at: ['cassandra', 'contents', 'path'], path: c.contents.path });
  }
  const e = parts.elasticsearch;
  if (e && 'record' in e) {
    out.push({ at: ['elasticsearch', 'record', 'path'], path: e.record.path });
    e.staged?.files.forEach((f, i) => out.push({ at: ['elasticsearch', 'staged', 'files', i, 'path'], path: f.path }));
  }
  if (parts.files) out.push({ at: ['files', 'listing', 'path'], path: parts.files.listing.path });
  if (parts.rehearsal) out.push({ at: ['rehearsal', 'file', 'path'], path: parts.rehearsal.file.path });
  return out;
}

/** Adds an issue for each path not inside `<id>/<node>/`. */
export function checkInsideNode(
  ctx: { addIssue(i: { code: 'custom'; message: string; path: (string | number)[] }): void },
  id: string,
  node: string,
  refs: readonly { at: (string | number)[]; path: string }[],
): void {
  // The id and node have their own issues when they do not hold; a refinement must not throw.
  let folder: string;
  try {
    folder = nodePrefix(id, node);
  } catch (err) {
    for (const r of refs) ctx.addIssue({ code: 'custom', path: r.at, message: `${JSON.stringify(r.path)} is not inside a node folder: ${(err as Error).message}` });
    return;
  }
  for (const r of refs) {
    if (!r.path.startsWith(folder)) ctx.addIssue({ code: 'custom', path: r.at, message: `${JSON.stringify(r.path)} is outside ${folder}, the only folder node ${node} writes in this set` });
  }
}

/** `<id>/<node>/part.json`: one node's record of a backup. */
export const nodePartSchema = z.strictObject({
  format: z.literal(NODE_PART_FORMAT),
  backupId: backupIdName,
  node: nodeName,
  /** When the agent took its cut, by its clock, ms since the epoch. */
  committedAt: z.number().int(),
  commits: commitsSchema,
  parts: partsSchema,
  /** The files this node stored, listings included, attachments not (they are in the listings). */
  files: z.array(setFileSchema),
  /** Files of earlier sets that this node's parts need (see the manifest's `references`). */
  references: z.array(referencedFileSchema),
  listed: listedTotalsSchema,
  /** Where the node's time went, by its clock (absent in records of agents that did not keep one). */
  timeline: timelineSchema.optional(),
}).superRefine((p, ctx) => {
  checkInsideNode(ctx, p.backupId, p.node, [
    ...partRefs(p.parts).map((r) => ({ ...r, at: ['parts', ...r.at] })),
    ...p.files.map((f, i) => ({ at: ['files', i, 'path'], path: f.path })),
  ]);
  p.references.forEach((r, i) => {
    if (r.node !== p.node) ctx.addIssue({ code: 'custom', path: ['references', i, 'node'], message: `${JSON.stringify(r.node)} is not this record's node ${p.node}` });
    else if (r.set === p.backupId) ctx.addIssue({ code: 'custom', path: ['references', i, 'set'], message: 'a reference names this set itself' });
    else checkInsideNode(ctx, r.set, r.node, [{ at: ['references', i, 'path'], path: r.path }]);
  });
  p.files.forEach((f, i) => {
    if (f.node !== p.node) ctx.addIssue({ code: 'custom', path: ['files', i, 'node'], message: `${JSON.stringify(f.node)} is not this record's node ${p.node}` });
  });
});

export type Commits = z.output<typeof commitsSchema>;
export type Parts = z.output<typeof partsSchema>;
export type SetFile = z.output<typeof setFileSchema>;
export type ReferencedFile = z.output<typeof referencedFileSchema>;
export type NodePart = z.output<typeof nodePartSchema>;
export type ListedTotals = z.output<typeof listedTotalsSchema>;

/** The part and commit schemas of a role, for the agent to check what its roles return. */
export const ROLE_SCHEMAS: Record<PartRole, { commit: z.ZodType; part: z.ZodType }> = {
  cassandra: { commit: cassandraCommitSchema, part: cassandraPartSchema },
  elasticsearch: { commit: esCommitSchema, part: esPartSchema },
  files: { commit: filesCommitSchema, part: filesPartSchema },
  rehearsal: { commit: rehearsalCommitSchema, part: rehearsalPartSchema },
};
