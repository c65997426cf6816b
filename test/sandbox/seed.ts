/**
 * Seeds the three stores with TheHive-shaped data of a chosen total size (default ~5 MB; several GB
 * for benchmarks). Content is deterministic (AES-CTR keystream of the row's index), so seeding the same
 * size twice overwrites the same keys, files and documents instead of piling up.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../shared/exec';
import { formatBytes } from '../../shared/format';
import { cqlClient, ensureIndex, ensureSchema, ES_INDEX, esClient, JANUS_TABLES, KEYSPACE } from './clients';
import { s3Client } from './minio';
import { CASSANDRA_NODES, MINIO, sandboxPaths } from './paths';

type Table = (typeof JANUS_TABLES)[number];

/** Share of the Cassandra budget per table: edgestore dominates, as in a real TheHive. */
const TABLE_SHARE: Record<Table, number> = {
  edgestore: 0.62, graphindex: 0.24, txlog: 0.07, systemlog: 0.02, janusgraph_ids: 0.01,
  system_properties: 0.01, edgestore_lock_: 0.01, graphindex_lock_: 0.01, system_properties_lock_: 0.01,
};
const STORE_SHARE = { cassandra: 0.5, files: 0.3, es: 0.2 };
const COLUMNS_PER_PARTITION = 8;

export interface SeedResult {
  bytes: number;
  cassandra: { rows: Record<string, number>; bytes: number };
  elasticsearch: { docs: number; bytes: number };
  files: { count: number; bytes: number };
  seconds: number;
}

/** "5MB", "2GB", "512KiB", "1000000" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${s}: use e.g. 5MB or 2GB`);
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

const KEY = createHash('sha256').update('tandem-sandbox').digest().subarray(0, 16);

/** Deterministic pseudo-random bytes for a label: fast (AES-CTR) and the same on every seed. */
export function detBytes(label: string, n: number): Buffer {
  const iv = createHash('md5').update(label).digest();
  // Half keystream (incompressible) and half a repeated phrase, so compressors have something to do.
  const half = Math.ceil(n / 2);
  const rnd = createCipheriv('aes-128-ctr', KEY, iv).update(Buffer.alloc(half));
  const text = Buffer.alloc(n - half, `${label} thehive case observable `);
  return Buffer.concat([rnd, text]);
}

/** Runs task(0..n-1) with at most `width` in flight. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

const log = (m: string) => process.stderr.write(`[seed] ${m}\n`);

async function seedCassandra(budget: number): Promise<SeedResult['cassandra']> {
  const cql = cqlClient();
  const rows: Record<string, number> = {};
  let bytes = 0;
  try {
    await cql.connect();
    await ensureSchema(cql);
    for (const table of JANUS_TABLES) {
      const tableBudget = Math.max(4096, budget * TABLE_SHARE[table]);
      // Big seeds (benchmarks) use bigger values: the same bytes in fewer mutations.
      const big = table === 'edgestore' || table === 'graphindex';
      const valueSize = (big ? 1024 : 256) * (budget >= 256 * 1024 ** 2 ? 4 : 1);
      const count = Math.max(8, Math.ceil(tableBudget / (valueSize + 24)));
      const insert = `INSERT INTO ${KEYSPACE}.${table} (key, column1, value) VALUES (?, ?, ?)`;
      // One unlogged batch per partition (JanusGraph writes a vertex's columns together): a single
      // mutation per partition instead of one per row, several times the throughput on 2 cores.
      const partitions = Math.ceil(count / COLUMNS_PER_PARTITION);
      await pool(partitions, 32, async (partition) => {
        const key = createHash('sha1').update(`${table}:${partition}`).digest().subarray(0, 8);
        const queries = [];
        for (let c = 0; c < COLUMNS_PER_PARTITION; c++) {
          const i = partition * COLUMNS_PER_PARTITION + c;
          if (i >= count) break;
          const column = Buffer.alloc(8);
          column.writeUInt32BE(c, 4);
          queries.push({ query: insert, params: [key, column, detBytes(`${table}:${i}`, valueSize)] });
        }
        // ALL: every replica holds the row before the flush, so all three nodes' snapshots agree.
        await cql.batch(queries, { prepare: true, logged: false, executionProfile: 'all' });
      });
      rows[table] = count;
      bytes += count * (valueSize + 16);
    }
  } finally {
    await cql.shutdown();
  }
  return { rows, bytes };
}

async function seedEs(budget: number): Promise<SeedResult['elasticsearch']> {
  const es = esClient();
  const docSize = 2048;
  const docs = Math.max(20, Math.ceil(budget / docSize));
  try {
    await ensureIndex(es);
    // No refreshes while loading (restored below); two bulk requests in flight keep ES busy but not swamped.
    await es.indices.putSettings({ index: ES_INDEX, settings: { refresh_interval: '-1' } });
    const BATCH = 1000;
    await pool(Math.ceil(docs / BATCH), 2, async (b) => {
      const operations: object[] = [];
      for (let i = b * BATCH; i < Math.min(docs, (b + 1) * BATCH); i++) {
        operations.push({ index: { _index: ES_INDEX, _id: `doc-${i}` } });
        operations.push({
          _label: ['Case', 'Alert', 'Observable', 'Task', 'Log'][i % 5],
          title: `sandbox record ${i}`,
          description: `seeded ${['case', 'alert', 'observable', 'task', 'log'][i % 5]} number ${i} for tandem`,
          tags: [`t${i % 17}`, 'seed'],
          _createdAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
          seq: i,
          // Bulk of the bytes in a binary (stored, not indexed) field: volume without analysis cost.
          payload: detBytes(`es:${i}`, Math.floor(docSize * 0.7)).toString('base64'),
        });
      }
      const r = await es.bulk({ operations, refresh: false });
      if (r.errors) throw new Error(`ES bulk failed: ${JSON.stringify(r.items.find((it) => it.index?.error))}`);
    });
    await es.indices.putSettings({ index: ES_INDEX, settings: { refresh_interval: '1s' } });
    await es.indices.refresh({ index: ES_INDEX });
  } finally {
    await es.close();
  }
  return { docs, bytes: docs * docSize };
}

/** TheHive localfs keeps attachments as hash-named files in sub-folders; the same objects go to MinIO. */
async function seedFiles(budget: number): Promise<SeedResult['files']> {
  const dir = sandboxPaths().files;
  const sizes = [4 * 1024, 32 * 1024, 256 * 1024, 2 * 1024 * 1024];
  const s3 = s3Client();
  let count = 0;
  let bytes = 0;
  try {
    const pending = new Set<Promise<unknown>>();
    for (let i = 0; bytes < budget || count < 10; i++) {
      const size = Math.min(sizes[i % sizes.length]!, Math.max(1024, budget - bytes));
      const content = detBytes(`file:${i}`, size);
      const hash = createHash('sha256').update(content).digest('hex');
      const rel = `${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
      mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
      const put = s3.send(new PutObjectCommand({ Bucket: MINIO.filesBucket, Key: rel, Body: content }));
      pending.add(put);
      put.finally(() => pending.delete(put)).catch(() => undefined);
      if (pending.size >= 8) await Promise.race(pending);
      count++;
      bytes += size;
    }
    await Promise.all(pending);
  } finally {
    s3.destroy();
  }
  return { count, bytes };
}

/** nodetool flush thehive on every node, so the data is in SSTables (what a snapshot hard-links). */
export async function flushAll(): Promise<void> {
  const bin = sandboxPaths().bin;
  await Promise.all(
    CASSANDRA_NODES.map((n) => runCommand([path.join(bin, n.name, 'nodetool'), 'flush', KEYSPACE], { timeoutMs: 600_000 })),
  );
}

export async function seedSandbox(size: number | string = '5MB'): Promise<SeedResult> {
  const total = typeof size === 'number' ? size : parseSize(size);
  const t0 = Date.now();
  log(`seeding ~${formatBytes(total)}`);
  const timed = async <T>(what: string, f: Promise<T>): Promise<T> => {
    const r = await f;
    log(`${what} done after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  };
  const [cassandra, elasticsearch, files] = await Promise.all([
    timed('cassandra', seedCassandra(Math.round(total * STORE_SHARE.cassandra))),
    timed('elasticsearch', seedEs(Math.round(total * STORE_SHARE.es))),
    timed('files', seedFiles(Math.round(total * STORE_SHARE.files))),
  ]);
  await timed('nodetool flush', flushAll());
  const result: SeedResult = {
    bytes: cassandra.bytes + elasticsearch.bytes + files.bytes,
    cassandra, elasticsearch, files, seconds: (Date.now() - t0) / 1000,
  };
  writeFileSync(path.join(sandboxPaths().state, 'seed.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
