/**
 * Ships a node's snapshot: one archive per table, streamed from the snapshot folder straight to
 * the destination (no second copy on disk), several tables at a time, with the keyspace schema
 * and the ring's token map beside them.
 */
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { TandemError } from '../../../shared/errors';
import { createArchive, type Compression } from '../../archive';
import type { ArchivedFile, ShippedTable } from '../../../shared/parts/cassandra';
import type { RoleContext } from '../role';

/** One archived table, with the snapshot files inside its archive (for contents.json). */
export type ArchivedTable = Omit<ShippedTable, 'count'> & { contents: ArchivedFile[] };

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
  opts: { compression: Compression; parallelism: number; threads?: number },
): Promise<ArchivedTable[]> {
  const sizes = await Promise.all(tables.map((t) => dirBytes(t.dir)));
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
  const done = new Map<number, number>();
  let filesDone = 0;
  const report = () =>
    ctx.progress({ phase: 'archive', bytesDone: [...done.values()].reduce((a, b) => a + b, 0), bytesTotal, filesDone, filesTotal: tables.length });
  report();
  const results: ArchivedTable[] = new Array(tables.length);
  let next = 0;
  const worker = async () => {
    while (next < tables.length) {
      const i = next++;
      const t = tables[i];
      const path = archivePath(ctx, t.keyspace, t.table, opts.compression);
      const pipe = new PassThrough({ highWaterMark: 1 << 20 });
      const [archive, stored] = await Promise.all([
        createArchive({
          sourceDir: t.dir,
          output: pipe,
          compression: opts.compression,
          threads: opts.threads,
          signal: ctx.signal,
          onProgress: (b) => {
            done.set(i, b);
            report();
          },
        }),
        ctx.destination.put(path, pipe, { signal: ctx.signal }),
      ]);
      if (stored.size !== archive.bytesOut) {
        throw new TandemError(`${path}: stored ${stored.size} bytes, archived ${archive.bytesOut}; the transfer was cut short`);
      }
      filesDone++;
      report();
      results[i] = { keyspace: t.keyspace, table: t.table, tableDir: t.tableDir, path, size: archive.bytesOut, sha256: archive.sha256, contents: archive.files, bytesIn: archive.bytesIn };
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.parallelism, tables.length) }, worker));
  return results;
}
