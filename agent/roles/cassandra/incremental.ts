/**
 * Which files of a table snapshot a set archives, given the parent set's record of the same table.
 *
 * SSTables are immutable once written: an SSTable the parent already holds is not archived again.
 * It is the same SSTable only when the table folder (which carries the table id, new after a DROP),
 * its name, its Data component's size and mtime and Cassandra's own CRC of that component
 * (`Digest.crc32`) all match the parent's record: a name alone is reused after TRUNCATE, and a
 * size alone matches by chance. The components Cassandra rewrites in place (Statistics.db on
 * repair, Summary.db on index summary redistribution) and the snapshot's own files go into every
 * set's archive. A table is archived in full again when its chain would read more than
 * `maxChain` earlier archives, or when more than `maxRemovedPercent` of the bytes in those
 * archives belong to SSTables that compaction has removed since.
 */
import type { SstableRecord, TableArchive, TableContents } from '../../../shared/parts/cassandra';
import { SSTABLE_NAME } from '../../../shared/parts/cassandra';

/** A file of a table snapshot, relative to the snapshot folder. */
export interface SnapshotFile {
  rel: string;
  size: number;
  mtimeMs: number;
}

/** An SSTable of the snapshot: its components and identity. */
export interface FoundSstable {
  name: string;
  data: SnapshotFile;
  /** Cassandra's CRC32 of the Data component, from `Digest.crc32`; null when absent. */
  digest: string | null;
  components: SnapshotFile[];
}

/** Components Cassandra may rewrite in place: captured again with every set. */
const MUTABLE_COMPONENTS = new Set(['Statistics.db', 'Summary.db']);

/** Splits `nb-1-big-Data.db` (or `.idx/nb-1-big-Data.db`) into SSTable name and component; null for other files. */
export function componentOf(rel: string): { sstable: string; component: string } | null {
  const m = /^((?:\.[A-Za-z0-9_]{1,64}\/)?[a-z]{2}-[0-9a-z_]{1,64}-[a-z]{2,8})-([A-Za-z0-9_.+-]{1,200})$/.exec(rel);
  return m && SSTABLE_NAME.test(m[1]) ? { sstable: m[1], component: m[2] } : null;
}

/** True for a component that is archived again with every set. */
export const isMutableComponent = (rel: string) => MUTABLE_COMPONENTS.has(componentOf(rel)?.component ?? '');

/** Groups snapshot files into SSTables (those with a Data component) and the rest. */
export function groupSstables(files: readonly SnapshotFile[], digests: ReadonlyMap<string, string | null>): { sstables: FoundSstable[]; others: SnapshotFile[] } {
  const groups = new Map<string, SnapshotFile[]>();
  const others: SnapshotFile[] = [];
  for (const f of files) {
    const c = componentOf(f.rel);
    if (!c) others.push(f);
    else groups.set(c.sstable, [...(groups.get(c.sstable) ?? []), f]);
  }
  const sstables: FoundSstable[] = [];
  for (const [name, components] of groups) {
    const data = components.find((f) => componentOf(f.rel)?.component === 'Data.db');
    // Without a Data component it is not an SSTable that can be matched: archived as it is.
    if (!data) others.push(...components);
    else sstables.push({ name, data, digest: digests.get(name) ?? null, components });
  }
  return { sstables, others };
}

/** Limits on a table's chain (the backup options max_chain and max_removed_percent). */
export interface ChainLimits {
  maxChain: number;
  maxRemovedPercent: number;
}

/** What a set archives of one table. */
export interface TablePlan {
  /** Snapshot files (relative paths) that go into this set's archive. */
  include: Set<string>;
  /** The parent's records of SSTables kept where they are. */
  reused: SstableRecord[];
  /** Earlier archives that hold the reused SSTables. */
  earlier: TableArchive[];
  /** Why the table is archived in full although a parent record exists; '' otherwise. */
  fullReason: string;
}

/** Decides what to archive of one table; `parent` is the parent set's record of the same table folder, if any. */
export function planTable(found: { sstables: FoundSstable[]; others: SnapshotFile[] }, parent: TableContents | undefined, limits: ChainLimits): TablePlan {
  const all = [...found.others, ...found.sstables.flatMap((s) => s.components)];
  const full = (fullReason: string): TablePlan => ({ include: new Set(all.map((f) => f.rel)), reused: [], earlier: [], fullReason });
  if (!parent) return full('');
  const byName = new Map(parent.sstables.map((r) => [r.name, r]));
  const archives = new Map(parent.archives.map((a) => [a.path, a]));
  const reused: SstableRecord[] = [];
  const include = new Set(found.others.map((f) => f.rel));
  for (const s of found.sstables) {
    const r = byName.get(s.name);
    if (r && sameSstable(s, r) && archives.has(r.archive)) {
      reused.push(r);
      for (const c of s.components) if (isMutableComponent(c.rel)) include.add(c.rel);
    } else {
      for (const c of s.components) include.add(c.rel);
    }
  }
  const earlier = [...new Set(reused.map((r) => r.archive))].map((p) => archives.get(p)!);
  if (earlier.length > limits.maxChain) return full(`its chain would read ${earlier.length} earlier archives (max_chain ${limits.maxChain})`);
  const held = earlier.reduce((n, a) => n + a.bytesIn, 0);
  const live = reused.reduce((n, r) => n + r.components.reduce((m, c) => m + c.size, 0), 0);
  const removed = held > 0 ? Math.round(((held - live) / held) * 100) : 0;
  if (removed > limits.maxRemovedPercent) {
    return full(`${removed}% of the bytes in its earlier archives were compacted away (max_removed_percent ${limits.maxRemovedPercent})`);
  }
  return { include, reused, earlier, fullReason: '' };
}

/** The same SSTable as recorded: name, Data size and mtime, Cassandra's CRC, and every immutable component's size. */
function sameSstable(s: FoundSstable, r: SstableRecord): boolean {
  if (s.name !== r.name || s.data.size !== r.dataSize || Math.trunc(s.data.mtimeMs) !== r.dataMtimeMs || s.digest !== r.digest) return false;
  const recorded = new Map(r.components.map((c) => [c.path, c.size]));
  const immutable = s.components.filter((c) => !isMutableComponent(c.rel));
  return immutable.length === recorded.size && immutable.every((c) => recorded.get(c.rel) === c.size);
}

/** The table's record in contents.json once this set's archive is written. */
export function tableContents(
  found: { sstables: FoundSstable[] },
  plan: TablePlan,
  own: Omit<TableArchive, 'bytesIn'> & { bytesIn: number; files: { path: string; size: number; sha256: string }[] },
): TableContents {
  const reused = new Set(plan.reused.map((r) => r.name));
  const archived = new Map(own.files.map((f) => [f.path, f]));
  const fresh: SstableRecord[] = found.sstables.filter((s) => !reused.has(s.name)).map((s) => {
    const components = s.components.filter((c) => !isMutableComponent(c.rel)).map((c) => {
      const f = archived.get(c.rel);
      if (!f) throw new Error(`${own.path}: ${c.rel} was planned but not archived`);
      return f;
    });
    return {
      name: s.name,
      dataSize: s.data.size,
      dataMtimeMs: Math.trunc(s.data.mtimeMs),
      digest: s.digest,
      dataSha256: archived.get(s.data.rel)!.sha256,
      set: own.set,
      archive: own.path,
      components,
    };
  });
  const { files, ...ownArchive } = own;
  return { files, sstables: [...fresh, ...plan.reused], archives: [ownArchive, ...plan.earlier] };
}
