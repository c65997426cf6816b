/**
 * What a cassandra restore works on: the manifest nodes this agent loads, their tables, the
 * keyspace the data goes into. Shared by the restore phases and the schema phase.
 */
import { ValidationError } from '../../../shared/errors';
import { nodesWith } from '../../../shared/manifest';
import { sstableContentsSchema, type ArchivedFile, type ShippedTable, type TableContents } from '../../../shared/parts/cassandra';
import { readReferenced } from '../../../shared/parts/io';
import { storedPath } from '../../../shared/encrypted-set';
import type { RestoreContext } from '../role';

/** The tables of one manifest node's cassandra part. */
export function tablesOf(ctx: RestoreContext, source: string): ShippedTable[] {
  const node = nodesWith(ctx.manifest, 'cassandra').find((n) => n.node === source);
  if (!node) throw new ValidationError(`the backup set has no cassandra part for node ${source}`);
  return node.parts.cassandra.tables;
}

/** Manifest nodes whose archives this agent loads (option cassandraSources; default: itself). */
export function sources(ctx: RestoreContext): string[] {
  return ctx.options.cassandraSources.length ? ctx.options.cassandraSources : [ctx.node];
}

/** The keyspace the data goes into: option targetKeyspace, else the one backed up. */
export function targetKeyspace(ctx: RestoreContext, backedUp: string): string {
  return ctx.options.targetKeyspace ?? backedUp;
}

/** Every keyspace the backup set holds. */
export function backedUpKeyspaces(ctx: RestoreContext): Set<string> {
  return new Set(nodesWith(ctx.manifest, 'cassandra').flatMap((n) => n.parts.cassandra.keyspaces));
}

/** Each table's files and SSTables of one node, read from contents.json and checked. */
export async function contentsOf(ctx: RestoreContext, source: string): Promise<Map<string, TableContents>> {
  const node = nodesWith(ctx.manifest, 'cassandra').find((n) => n.node === source);
  if (!node) throw new ValidationError(`the backup set has no cassandra part for node ${source}`);
  const contents = await readReferenced(ctx.destination, node.parts.cassandra.contents, sstableContentsSchema, 'SSTable contents file');
  return new Map(Object.entries(contents.tables));
}

/** One archive a table is restored from, with the files to take out of it. */
export interface ArchiveToExtract {
  ref: { path: string; size: number; sha256: string };
  /** Files to write (relative paths) and what they must hold; an earlier set's archive gives only the SSTables this set kept of it. */
  files: ArchivedFile[];
  /** True for an earlier set's archive: only `files` are written, the rest is read past. */
  partial: boolean;
}

/**
 * The archives one table is restored from: this set's own (every file in it), then each earlier
 * set's archive holding SSTables this set kept (only their immutable components). Each must be a
 * file the manifest vouches for, this set's or one of its references, with the same size and
 * sha256: contents.json cannot send a restore anywhere else.
 */
export function archivesOf(ctx: RestoreContext, source: string, t: ShippedTable, c: TableContents | undefined): ArchiveToExtract[] {
  if (!c) throw new ValidationError(`contents.json of ${source} has no record of ${t.keyspace}.${t.table}`);
  const [own, ...earlier] = c.archives;
  // Its bytes are checked against the manifest's record (t) when downloaded.
  if (own.path !== t.path) {
    throw new ValidationError(`contents.json of ${source} names ${own.path} as ${t.keyspace}.${t.table}'s archive; the manifest says ${t.path}`);
  }
  const vouched = new Map(ctx.manifest.references.filter((r) => r.node === source).map((r) => [r.path, r]));
  // Of an encrypted set, the manifest references the stored `.age` files (their bytes are checked
  // against it as they are decrypted) and the archive is fetched by its plain name and record.
  const encrypted = Boolean(ctx.manifest.options.setRecipient);
  const out: ArchiveToExtract[] = [{ ref: t, files: c.files, partial: false }];
  for (const a of earlier) {
    const v = vouched.get(encrypted ? storedPath(a.path) : a.path);
    if (!v || (!encrypted && (v.size !== a.size || v.sha256 !== a.sha256))) {
      throw new ValidationError(`contents.json of ${source} reads ${t.keyspace}.${t.table} from ${a.path}, which the manifest does not reference as recorded`);
    }
    out.push({ ref: encrypted ? { path: a.path, size: a.size, sha256: a.sha256 } : v, files: c.sstables.filter((r) => r.archive === a.path).flatMap((r) => r.components), partial: true });
  }
  return out;
}
