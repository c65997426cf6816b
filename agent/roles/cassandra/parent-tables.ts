/**
 * The parent set's record of this node's tables, for an incremental set: each table's SSTables
 * and archives (contents.json) and its row count. Whatever cannot be read or does not hold
 * together makes that table, or the whole node, archived in full: a full archive is always
 * correct, a wrong reference never is.
 */
import { cassandraPrefix } from '../../../shared/destination/layout';
import { errorMessage } from '../../../shared/errors';
import { sstableContentsSchema, type TableRowCount } from '../../../shared/parts/cassandra';
import { readReferenced } from '../../../shared/parts/io';
import type { RoleContext } from '../role';
import type { ParentTable } from './ship';

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
    const contents = await readReferenced(ctx.destination, part.contents, sstableContentsSchema, 'SSTable contents file');
    // An archive the parent relies on must be one its manifest vouches for (path, size, sha256), and this node's.
    const vouched = new Map([...manifest.files, ...manifest.references].filter((f) => f.node === ctx.node).map((f) => [f.path, f]));
    for (const t of part.tables) {
      const key = `${t.keyspace}.${t.table}`;
      const c = contents.tables[key];
      if (!c) continue;
      const sound = c.archives.every((a) => {
        const v = vouched.get(a.path);
        return v !== undefined && v.size === a.size && v.sha256 === a.sha256 && a.path.startsWith(cassandraPrefix(a.set, ctx.node));
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
