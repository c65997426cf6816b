/**
 * The parent set's record of this node's tables, for an incremental set: each table's SSTables
 * and archives (contents.json) and its row count. Whatever cannot be read or does not hold
 * together makes that table, or the whole node, archived in full: a full archive is always
 * correct, a wrong reference never is.
 */
import { cassandraPrefix } from '../../../shared/destination/layout';
import { errorMessage } from '../../../shared/errors';
import { sstableContentsSchema, type TableRowCount } from '../../../shared/parts/cassandra';
import type { RoleContext } from '../role';
import type { ParentTable } from './ship';
import { storedPath } from '../../../shared/encrypted-set';
import { parseJson, readReferenced, sha256Of } from '../../../shared/parts/io';
import type { FileRef } from '../../../shared/parts';

/**
 * An encrypted parent's contents.json, from the plaintext this agent kept when it wrote it: the
 * agent cannot decrypt the stored one. Null (logged: every table is archived in full) when it kept
 * none matching the stored file the parent's manifest records, or the copy is not the file its part describes.
 */
async function keptContents(ctx: RoleContext, stored: FileRef | undefined, plain: FileRef) {
  const body = stored && ctx.localCopy ? await ctx.localCopy(stored) : null;
  if (!body || body.length !== plain.size || sha256Of(body) !== plain.sha256) {
    ctx.log.info({ parent: ctx.parent?.backupId }, 'the parent set is encrypted and this agent kept no copy of its contents.json matching the parent\'s manifest (another host wrote it, or the state folder was reset): every table is archived in full');
    return null;
  }
  return parseJson(body, sstableContentsSchema, plain.path, 'SSTable contents file');
}

/** The parent's tables and counts by `<keyspace>.<table>`; empty for a full set. */
export interface ParentTables {
  tables: Map<string, ParentTable>;
  counts: Map<string, TableRowCount>;
}

/** Reads this node's cassandra record in the parent set; empty (and logged) when there is none or it does not hold together. */
export async function parentTables(ctx: RoleContext): Promise<ParentTables> {
  const out: ParentTables = { tables: new Map(), counts: new Map() };
  if (!ctx.parent) return out;
  try {
    const { manifest, node } = await ctx.parent.load();
    const part = node?.parts.cassandra;
    if (!part) {
      ctx.log.info({ parent: ctx.parent.backupId }, 'the parent set holds no cassandra part of this node: every table is archived in full');
      return out;
    }
    // An archive the parent relies on must be one its manifest vouches for (path, size, sha256), and this node's.
    const vouched = new Map([...manifest.files, ...manifest.references].filter((f) => f.node === ctx.node).map((f) => [f.path, f]));
    const encrypted = Boolean(manifest.options.setRecipient);
    const contents = encrypted ? await keptContents(ctx, vouched.get(storedPath(part.contents.path)), part.contents) : await readReferenced(ctx.destination, part.contents, sstableContentsSchema, 'SSTable contents file');
    if (!contents) return out;
    for (const t of part.tables) {
      const key = `${t.keyspace}.${t.table}`;
      const c = contents.tables[key];
      if (!c) continue;
      const sound = c.archives.every((a) => {
        // Of an encrypted parent, the manifest vouches for the stored `.age` file; the plain size and sha256 are contents.json's, which this agent wrote.
        const v = vouched.get(encrypted ? storedPath(a.path) : a.path);
        return v !== undefined && (encrypted || (v.size === a.size && v.sha256 === a.sha256)) && a.path.startsWith(cassandraPrefix(a.set, ctx.node));
      }) && c.sstables.every((r) => c.archives.some((a) => a.path === r.archive));
      if (!sound) {
        ctx.log.warn({ parent: ctx.parent.backupId, table: key }, "the parent's record of this table does not match its manifest: the table is archived in full");
        continue;
      }
      out.tables.set(key, { tableDir: t.tableDir, contents: c });
      if (t.count) out.counts.set(key, t.count);
    }
  } catch (err) {
    ctx.log.warn({ parent: ctx.parent.backupId, err: errorMessage(err) }, 'cannot read the parent set: every table is archived in full');
  }
  return out;
}
