/**
 * Ships a node's snapshot: one archive per table, streamed from the snapshot folder straight to
 * the destination (no second copy on disk), several tables at a time, with the keyspace schema
 * and the ring's token map beside them.
 */
import { readFile, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { producedAndPut, retryStreamedPut } from '../../../shared/destination';
import { tableArchivePath } from '../../../shared/destination/layout';
import { TandemError, errorMessage } from '../../../shared/errors';
import type { ProcessSpawner } from '../../../shared/exec';
import { runPool } from '../../../shared/pool';
import { throttle } from '../../../shared/progress';
import { createArchive, type Compression } from '../../archive';
import type { ShippedTable, TableContents } from '../../../shared/parts/cassandra';
import { componentOf, groupSstables, planTable, tableContents, type ChainLimits, type SnapshotFile, type TablePlan } from './incremental';
import type { ProgressUpdate, RoleContext } from '../role';

/** One archived table, with the snapshot files inside its archive (for contents.json). */
export type ArchivedTable = Omit<ShippedTable, 'count'> & { contents: TableContents };

const EXTENSION: Record<Compression, string> = { bzip2: 'tbz', xz: 'txz', none: 'tar' };

/** Where a table's archive goes at the destination: `<id>/<node>/cassandra/<keyspace>/<table>.<ext>`. */
export function archivePath(ctx: Pick<RoleContext, 'backupId' | 'node'>, keyspace: string, table: string, compression: Compression): string {
  return tableArchivePath(ctx.backupId, ctx.node, keyspace, table, EXTENSION[compression]);
}

/** Every regular file under `dir`, relative, with size and mtime; a symlink or device is refused by the archiver later. */
async function snapshotFiles(dir: string, rel = ''): Promise<SnapshotFile[]> {
  const out: SnapshotFile[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await snapshotFiles(dir, r)));
    else if (e.isFile()) {
      const st = await stat(join(dir, r));
      out.push({ rel: r, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
  return out;
}

/** Cassandra's CRC of each SSTable's Data component, from its `Digest.crc32` (a decimal number). */
async function readDigests(dir: string, files: readonly SnapshotFile[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const f of files) {
    const c = componentOf(f.rel);
    if (c?.component !== 'Digest.crc32' || f.size > 32) continue;
    const text = (await readFile(join(dir, f.rel), 'utf8')).trim();
    out.set(c.sstable, /^\d{1,10}$/.test(text) ? text : null);
  }
  return out;
}

/** The parent set's record of one table, with the table folder it was taken from. */
export interface ParentTable {
  tableDir: string;
  contents: TableContents;
}

/** What a set archives of one table snapshot, and the snapshot's SSTables. */
export interface PlannedTable {
  found: ReturnType<typeof groupSstables>;
  plan: TablePlan;
  /** Bytes of the files that go into the archive. */
  bytes: number;
  /** Every SSTable is the parent's: nothing was written to the table since (its row count can be the parent's). */
  unchanged: boolean;
}

/** Decides, per table, what to archive: what the parent (`<keyspace>.<table>` → record) does not hold. */
export async function planTables(
  ctx: RoleContext,
  tables: readonly { keyspace: string; table: string; tableDir: string; dir: string }[],
  parent: ReadonlyMap<string, ParentTable>,
  limits: ChainLimits,
): Promise<PlannedTable[]> {
  return Promise.all(tables.map(async (t) => {
    const files = await snapshotFiles(t.dir);
    const found = groupSstables(files, await readDigests(t.dir, files));
    const before = parent.get(`${t.keyspace}.${t.table}`);
    // Another table folder is another table (dropped and created again): nothing of it is reused.
    const prior = before?.tableDir === t.tableDir ? before.contents : undefined;
    const plan = planTable(found, prior, limits);
    if (plan.fullReason) ctx.log.info({ table: `${t.keyspace}.${t.table}`, reason: plan.fullReason }, 'archiving the table in full');
    const bytes = files.filter((f) => plan.include.has(f.rel)).reduce((n, f) => n + f.size, 0);
    const unchanged = prior !== undefined && plan.reused.length === found.sstables.length && prior.sstables.length === found.sstables.length;
    return { found, plan, bytes, unchanged };
  }));
}

/** Archives every table snapshot to the destination, `parallelism` at a time, each holding what its plan says. */
export async function shipTables(
  ctx: RoleContext,
  tables: { keyspace: string; table: string; tableDir: string; dir: string }[],
  plans: readonly PlannedTable[],
  opts: { compression: Compression; parallelism: number; threads?: number; spawn?: ProcessSpawner },
): Promise<ArchivedTable[]> {
  const bytesTotal = plans.reduce((a, p) => a + p.bytes, 0);
  const done = new Map<number, number>();
  let filesDone = 0;
  // Archives report every chunk they read; each forwarded report rewrites the agent's state and goes out on Watch.
  const progress = throttle((u: ProgressUpdate) => ctx.progress(u));
  const report = () =>
    progress({ phase: 'archive', bytesDone: [...done.values()].reduce((a, b) => a + b, 0), bytesTotal, filesDone, filesTotal: tables.length });
  report();
  // A failed table stops the others in flight (the pool's signal): the backup has failed already.
  return runPool(tables, opts.parallelism, ctx.signal, async (t, i, signal): Promise<ArchivedTable> => {
    const path = archivePath(ctx, t.keyspace, t.table, opts.compression);
    const { found, plan } = plans[i];
    const startedAt = Date.now();
    // An upload cut short cannot be replayed: the archive is built again from the snapshot, which stays until cleanup.
    const [archive, stored] = await retryStreamedPut(() => {
      const pipe = new PassThrough({ highWaterMark: 1 << 20 });
      return producedAndPut(
        createArchive({
          sourceDir: t.dir,
          output: pipe,
          compression: opts.compression,
          threads: opts.threads,
          spawn: opts.spawn,
          include: plan.include,
          signal,
          onProgress: (b) => {
            done.set(i, b);
            report();
          },
        }),
        ctx.destination.put(path, pipe, { signal }),
      );
    }, { signal, onRetry: (err, attempt) => ctx.log.warn({ path, attempt, err: errorMessage(err) }, 'archive upload cut short; building and sending it again') });
    if (stored.size !== archive.bytesOut) {
      throw new TandemError(`${path}: stored ${stored.size} bytes, archived ${archive.bytesOut}; the transfer was cut short`);
    }
    filesDone++;
    report();
    ctx.span({ phase: 'archive', table: `${t.keyspace}.${t.table}`, startedAt, endedAt: Date.now(), bytesIn: archive.bytesIn, bytesOut: archive.bytesOut, files: archive.files.length });
    const contents = tableContents(found, plan, { path, size: archive.bytesOut, sha256: archive.sha256, set: ctx.backupId, bytesIn: archive.bytesIn, files: archive.files });
    return {
      keyspace: t.keyspace, table: t.table, tableDir: t.tableDir, path, size: archive.bytesOut, sha256: archive.sha256, bytesIn: archive.bytesIn,
      chain: plan.earlier.length,
      bytesReused: plan.reused.reduce((n, r) => n + r.components.reduce((m, c) => m + c.size, 0), 0),
      contents,
    };
  });
}
