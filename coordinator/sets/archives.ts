/**
 * Part of coordinator/sets/, the read side of the destination: the archives to extract for each
 * node and table of a set, in whatever set each lives: this
 * set's own archive (every file in it) and, for an incremental set, earlier sets' archives from
 * which only the SSTables it kept are taken. `tandem show --archives` prints them as the `tar`
 * commands of a restore by hand.
 */
import type { Destination } from '../../shared/destination';
import { nodesWith, type Manifest } from '../../shared/manifest';
import { sstableContentsSchema } from '../../shared/parts/cassandra';
import { readReferenced } from '../../shared/parts/io';

/** One archive to extract into a table's folder. */
export interface ArchiveStep {
  path: string;
  set: string;
  size: number;
  sha256: string;
  /** The members to take out of it (as `tar` names them, `./…`); empty for every member. */
  members: string[];
}

/** One table of one node: its archives, earlier sets' first, this set's last. */
export interface TableArchives {
  node: string;
  keyspace: string;
  table: string;
  archives: ArchiveStep[];
}

/** Every table's archives, node by node, read from each node's contents.json (checked against the manifest). */
export async function tableArchives(dest: Destination, m: Manifest): Promise<TableArchives[]> {
  const out: TableArchives[] = [];
  for (const n of nodesWith(m, 'cassandra')) {
    const contents = await readReferenced(dest, n.parts.cassandra.contents, sstableContentsSchema, 'SSTable contents file');
    for (const t of n.parts.cassandra.tables) {
      const c = contents.tables[`${t.keyspace}.${t.table}`];
      const earlier = (c?.archives ?? []).slice(1).map((a) => ({
        path: a.path,
        set: a.set,
        size: a.size,
        sha256: a.sha256,
        members: c!.sstables.filter((s) => s.archive === a.path).flatMap((s) => s.components.map((x) => `./${x.path}`)),
      }));
      out.push({ node: n.node, keyspace: t.keyspace, table: t.table, archives: [...earlier, { path: t.path, set: m.id, size: t.size, sha256: t.sha256, members: [] }] });
    }
  }
  return out;
}

/** `tar` flags for an archive, by its extension. */
export const tarFlags = (path: string) => (path.endsWith('.tbz') ? 'xjf' : path.endsWith('.txz') ? 'xJf' : 'xf');
