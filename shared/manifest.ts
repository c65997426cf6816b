/**
 * The backup set's manifest: written last, atomically, at `<backup id>/manifest.json` at the
 * destination. A backup set without a manifest is incomplete and never listed as a backup.
 */
import { z } from 'zod';

/** The manifest format this version writes and reads. */
export const MANIFEST_FORMAT = 'tandem.backup-set/v1';

/** One file of the backup set, relative to the destination root. */
export const manifestFile = z.strictObject({
  path: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  etag: z.string().optional(),
  node: z.string(),
  role: z.string(),
});

/** One node's part of the backup set. */
export const manifestNode = z.strictObject({
  node: z.string(),
  hostname: z.string(),
  roles: z.array(z.string()),
  versions: z.record(z.string(), z.string()),
  /** When the agent took its cut, by its clock, ms since the epoch. */
  committedAt: z.number(),
  /** Clock offset of the agent against the coordinator, ms (estimated at Describe). */
  clockOffsetMs: z.number(),
  /** Per-role record of the cut (snapshot instants...). */
  commits: z.record(z.string(), z.unknown()),
  /** Per-role part description (tables, indices, files...). */
  parts: z.record(z.string(), z.unknown()),
});

/** The manifest of a complete backup set. */
export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string(),
  tag: z.string(),
  status: z.literal('complete'),
  tandemVersion: z.string(),
  startedAt: z.string(),
  committedAt: z.string(),
  completedAt: z.string(),
  durationMs: z.number(),
  /** How far apart the nodes took their Cassandra snapshots, by Cassandra's own record, ms. */
  snapshotSpreadMs: z.number().nullable(),
  options: z.record(z.string(), z.string()),
  nodes: z.array(manifestNode),
  files: z.array(manifestFile),
  bytes: z.number().int().nonnegative(),
});

/** A complete backup set's manifest. */
export type Manifest = z.output<typeof manifestSchema>;
/** One file entry of a manifest. */
export type ManifestFile = z.output<typeof manifestFile>;

/** The manifest's path at the destination. */
export const manifestPath = (backupId: string) => `${backupId}/manifest.json`;

/** Collects the `files` arrays that roles put in their part descriptions. */
export function filesOfParts(node: string, parts: Record<string, unknown>): ManifestFile[] {
  const out: ManifestFile[] = [];
  for (const [role, part] of Object.entries(parts)) {
    const files = (part as { files?: unknown })?.files;
    if (!Array.isArray(files)) continue;
    for (const f of files as { path: string; size: number; sha256?: string; etag?: string }[]) {
      out.push({ path: f.path, size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}), ...(f.etag ? { etag: f.etag } : {}), node, role });
    }
  }
  return out;
}

/** Spread of the cut instants recorded by roles (`cutAt`), preferring Cassandra's; null when none. */
export function snapshotSpread(nodes: readonly { commits: Record<string, unknown> }[]): number | null {
  const cuts = (role?: string) =>
    nodes.flatMap((n) =>
      Object.entries(n.commits)
        .filter(([r]) => !role || r === role)
        .map(([, c]) => (c as { cutAt?: unknown })?.cutAt)
        .filter((t): t is number => typeof t === 'number'),
    );
  const c = cuts('cassandra').length ? cuts('cassandra') : cuts();
  return c.length ? Math.max(...c) - Math.min(...c) : null;
}
