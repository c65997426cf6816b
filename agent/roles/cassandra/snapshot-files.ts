/**
 * Where a snapshot lives on disk: `<dataDir>/<keyspace>/<table>-<uuid>/snapshots/<tag>/`, with the
 * manifest.json (files, created_at) Cassandra 4.0+ writes: the server's own record of the instant.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CQL_NAME } from '../../../shared/names';

/** One table's snapshot folder. */
export interface TableSnapshot {
  keyspace: string;
  table: string;
  /** The table folder's name, `<table>-<uuid>`. */
  tableDir: string;
  dir: string;
  /** created_at from the snapshot's manifest.json, ms since the epoch; null if absent. */
  createdAt: number | null;
}

/** Finds every table folder of the keyspace holding a snapshot with this tag. */
export async function findTableSnapshots(dataDir: string, keyspace: string, tag: string): Promise<TableSnapshot[]> {
  const ksDir = join(dataDir, keyspace);
  const out: TableSnapshot[] = [];
  for (const tableDir of (await readdir(ksDir)).sort()) {
    const m = /^(.+)-[0-9a-f]{32}$/.exec(tableDir);
    if (!m || !CQL_NAME.test(m[1])) continue;
    const dir = join(ksDir, tableDir, 'snapshots', tag);
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) continue;
    out.push({ keyspace, table: m[1], tableDir, dir, createdAt: await readCreatedAt(dir) });
  }
  return out;
}

/** Reads created_at from a snapshot folder's manifest.json. */
export async function readCreatedAt(dir: string): Promise<number | null> {
  try {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { created_at?: string };
    const t = m.created_at ? Date.parse(m.created_at) : NaN;
    return Number.isFinite(t) ? t : null;
  } catch {
    return null;
  }
}

/** Bytes of a keyspace's live data (snapshots excluded), to size disk-space checks. */
export async function keyspaceBytes(dataDir: string, keyspace: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory() && e.name !== 'snapshots' && e.name !== 'backups' && depth < 2) await walk(join(dir, e.name), depth + 1);
      else if (e.isFile()) total += (await stat(join(dir, e.name))).size;
    }
  };
  await walk(join(dataDir, keyspace), 0);
  return total;
}
