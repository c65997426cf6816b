/**
 * The backup set's manifest: written last, atomically, at `<backup id>/manifest.json` at the
 * destination. A backup set without a manifest is incomplete and never listed as a backup.
 *
 * What comes back from a destination is input from the network: a manifest is parsed by one
 * schema, its format checked first, so a manifest of another version is refused by name.
 */
import { z } from 'zod';
import { ValidationError } from './errors';
import { backupOptionsSchema } from './wire/backup-options';
import { parseJsonText, parseValue, sha256Of } from './parts/io';
import { nameSchema, SNAPSHOT_TAG } from './names';
import { manifestPath, nodePartPath } from './destination/layout';
import {
  backupIdName, checkInsideNode, commitsSchema, fileRef, listedTotalsSchema, nodeName, partRefs, partsSchema, referencedFileSchema, runPhasesSchema, setFileSchema, timelineSchema,
  type Commits, type Parts, type ReferencedFile, type SetFile,
} from './parts';

/** The manifest format this version writes and reads. */
export const MANIFEST_FORMAT = 'tandem.backup-set/v3';

/** One node's part of the backup set. */
export const manifestNode = z.strictObject({
  node: nodeName,
  hostname: z.string(),
  roles: z.array(z.string()),
  versions: z.record(z.string(), z.string()),
  /** When the agent took its cut, by its clock, ms since the epoch. */
  committedAt: z.number(),
  /** Clock offset of the agent against the coordinator, ms (estimated at Describe). */
  clockOffsetMs: z.number(),
  /** The node's own record at the destination (`<id>/<node>/part.json`). */
  record: fileRef,
  /** Per-role record of the cut (snapshot instants...). */
  commits: commitsSchema,
  /** Per-role part description (tables, indices, files...). */
  parts: partsSchema,
  /** Where the node's time went, by its clock (subtract clockOffsetMs for the coordinator's); absent in older sets. */
  timeline: timelineSchema.optional(),
});

/** The manifest of a complete backup set. */
export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  id: backupIdName,
  tag: nameSchema('snapshot tag', SNAPSHOT_TAG),
  status: z.literal('complete'),
  tandemVersion: z.string(),
  startedAt: z.string(),
  committedAt: z.string(),
  completedAt: z.string(),
  durationMs: z.number(),
  /** How far apart the nodes took their Cassandra snapshots, by Cassandra's own record, ms. */
  snapshotSpreadMs: z.number().nullable(),
  /** How far apart the three stores' cuts were (every role's cutAt on every node), ms; absent in older sets. */
  crossStoreSpreadMs: z.number().nullable().optional(),
  options: backupOptionsSchema,
  nodes: z.array(manifestNode),
  /** The set this one was built on (it stores only what the parent did not hold); null for a full set. */
  parent: backupIdName.nullable(),
  /** The set's own files (archives, schemas, listings, records), each with its sha256. */
  files: z.array(setFileSchema),
  /**
   * Files stored by earlier sets that this set needs (table archives holding SSTables it did not
   * store again), each with the set that stores it. Attachments kept by an earlier set are named in
   * the files listing instead (its entries' `set`), as they can number in the millions.
   */
  references: z.array(referencedFileSchema),
  /** Attachments held by the files listings, beyond `files`. */
  listed: listedTotalsSchema,
  /** Every byte of the set: its files and the listed attachments. */
  bytes: z.int().nonnegative(),
  /** The coordinator's phases of the run, by its clock; absent in older sets and in sets finished by `tandem recover`. */
  phases: runPhasesSchema.optional(),
}).superRefine((m, ctx) => {
  // Any agent can write to the destination: a planted manifest must not point a restore at
  // another set's files, at a node it does not describe, or outside the set.
  const nodes = new Set<string>();
  m.nodes.forEach((n, i) => {
    if (nodes.has(n.node)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'node'], message: `node ${n.node} appears twice` });
    nodes.add(n.node);
    const record = partPathOrNull(m.id, n.node);
    if (record !== null && n.record.path !== record) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'record', 'path'], message: `${JSON.stringify(n.record.path)} is not ${record}` });
    checkInsideNode(ctx, m.id, n.node, partRefs(n.parts).map((r) => ({ ...r, at: ['nodes', i, 'parts', ...r.at] })));
  });
  m.files.forEach((f, i) => {
    if (!nodes.has(f.node)) ctx.addIssue({ code: 'custom', path: ['files', i, 'node'], message: `${JSON.stringify(f.node)} is not a node of this set (${[...nodes].join(', ') || 'none'})` });
    else checkInsideNode(ctx, m.id, f.node, [{ at: ['files', i, 'path'], path: f.path }]);
  });
  // A reference names another set's file of the same node: never this set's, never outside that node's folder.
  m.references.forEach((r, i) => {
    if (r.set === m.id) ctx.addIssue({ code: 'custom', path: ['references', i, 'set'], message: `a reference names this set itself; its files belong in files` });
    if (!nodes.has(r.node)) ctx.addIssue({ code: 'custom', path: ['references', i, 'node'], message: `${JSON.stringify(r.node)} is not a node of this set (${[...nodes].join(', ') || 'none'})` });
    else checkInsideNode(ctx, r.set, r.node, [{ at: ['references', i, 'path'], path: r.path }]);
  });
});

/** The node's part.json path, or null when the id or node does not hold (their own issues say so): a refinement must not throw. */
function partPathOrNull(id: string, node: string): string | null {
  try {
    return nodePartPath(id, node);
  } catch {
    return null;
  }
}

/** A complete backup set's manifest. */
export type Manifest = z.output<typeof manifestSchema>;
/** One node of a manifest. */
export type ManifestNode = z.output<typeof manifestNode>;
/** One file entry of a manifest. */
export type ManifestFile = SetFile;
/** A file of an earlier set that a manifest references. */
export type ManifestReference = ReferencedFile;

/** sha256 of a manifest's bytes, which restore requests carry instead of the manifest. */
export const manifestDigest = (body: Buffer | string) => sha256Of(body);

/** Parses a manifest's bytes; throws ValidationError naming the problem (unknown format first). */
export function parseManifest(body: Buffer | string, id: string): Manifest {
  const parsed = parseJsonText(body, manifestPath(id));
  const format = z.looseObject({ format: z.unknown() }).safeParse(parsed).data?.format;
  if (format !== MANIFEST_FORMAT) {
    throw new ValidationError(
      `${manifestPath(id)} has format ${JSON.stringify(format)}; this tandem reads ${MANIFEST_FORMAT} only: use the tandem version that wrote the set (its tandemVersion) to read or restore it`,
    );
  }
  const m = parseValue(parsed, manifestSchema, manifestPath(id), 'manifest');
  if (m.id !== id) throw new ValidationError(`${manifestPath(id)} describes another backup set (${m.id})`);
  return m;
}

/** Nodes of the manifest that hold a part of `role`. */
export function nodesWith<R extends keyof Parts>(m: Manifest, role: R): (ManifestNode & { parts: Required<Pick<Parts, R>> })[] {
  return m.nodes.filter((n) => n.parts[role] !== undefined) as (ManifestNode & { parts: Required<Pick<Parts, R>> })[];
}

/**
 * Spread of the cut instants recorded by roles (`cutAt`), preferring Cassandra's; null when none.
 * With `across`, every role's cut counts: the Cassandra snapshots, the Elasticsearch snapshot's
 * start and the files listing, each by its own host's clock.
 */
export function snapshotSpread(nodes: readonly { commits: Commits }[], across = false): number | null {
  const cuts = (role?: keyof Commits) =>
    nodes.flatMap((n) =>
      (Object.entries(n.commits) as [keyof Commits, Commits[keyof Commits]][])
        .filter(([r]) => !role || r === role)
        .map(([, c]) => (c && 'cutAt' in c ? c.cutAt : undefined))
        .filter((t): t is number => typeof t === 'number'),
    );
  const c = !across && cuts('cassandra').length ? cuts('cassandra') : cuts();
  return c.length ? Math.max(...c) - Math.min(...c) : null;
}
