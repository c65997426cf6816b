/**
 * Ships a node's snapshot: one archive per table, streamed from the snapshot folder straight to
 * the destination (no second copy on disk), several tables at a time, with the keyspace schema
 * and the ring's token map beside them.
 */
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { TandemError } from '../../../shared/errors';
import type { ProcessSpawner } from '../../../shared/exec';
import { runPool } from '../../../shared/pool';
import { throttle } from '../../../shared/progress';
import { createArchive, type Compression } from '../../archive';
import type { ArchivedFile } from '../../../shared/parts/cassandra';
import type { ProgressUpdate, RoleContext } from '../role';

/** One archived table, with the snapshot files inside its archive (for contents.json). */
export type ArchivedTable = Omit<import('../../../shared/parts/cassandra').ShippedTable, 'count'> & { contents: ArchivedFile[] };

const EXTENSION: Record<Compression, string> = { bzip2: 'tbz', xz: 'txz', none: 'tar' };

/** Where a table's archive goes at the destination: `<id>/<node>/cassandra/<keyspace>/<table>.<ext>`. */
export function archivePath(ctx: Pick<RoleContext, 'backupId' | 'node'>, keyspace: string, table: string, compression: Compression): string {
  return `${ctx.backupId}/${ctx.node}/cassandra/${keyspace}/${table}.${EXTENSION[compression]}`;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) n += (await stat(join(dir, e.name))).size;
    else if (e.isDirectory()) n += await dirBytes(join(dir, e.name));
  }
  return n;
}

/** Archives every table snapshot to the destination, `parallelism` at a time. */
export async function shipTables(
  ctx: RoleContext,
  tables: { keyspace: string; table: string; tableDir: string; dir: string }[],
  opts: { compression: Compression; parallelism: number; threads?: number; spawn?: ProcessSpawner },
): Promise<ArchivedTable[]> {
  const sizes = await Promise.all(tables.map((t) => dirBytes(t.dir)));
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
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
    const pipe = new PassThrough({ highWaterMark: 1 << 20 });
    const [archive, stored] = await Promise.all([
      createArchive({
        sourceDir: t.dir,
        output: pipe,
        compression: opts.compression,
        threads: opts.threads,
        spawn: opts.spawn,
        signal,
        onProgress: (b) => {
          done.set(i, b);
          report();
        },
      }),
      ctx.destination.put(path, pipe, { signal }),
    ]);
    if (stored.size !== archive.bytesOut) {
      throw new TandemError(`${path}: stored ${stored.size} bytes, archived ${archive.bytesOut}; the transfer was cut short`);
    }
    filesDone++;
    report();
    return { keyspace: t.keyspace, table: t.table, tableDir: t.tableDir, path, size: archive.bytesOut, sha256: archive.sha256, contents: archive.files, bytesIn: archive.bytesIn };
  });
}
