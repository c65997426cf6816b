/**
 * `npm run bench -- incremental`: what a chain of sets costs, side by side in one run, on the
 * sandbox's own fleet (node1 holds Cassandra, Elasticsearch and the files; node2 and node3
 * Cassandra) with the hot writer running:
 *   (a) a full set; (b) a second set with nothing changed; (c) a set after about 5 % new rows,
 *   documents and attachments and a flush; (d) a set after `nodetool compact` of edgestore on
 *   every node; (e) the seed's steps for the same data (per node `nodetool snapshot`, one
 *   `tar cjf` per table, an Elasticsearch snapshot, a copy of the files folder).
 * Then three more sets make a chain of seven, and the drill of its last set is timed beside the
 * drill of the full set (a). Wall time and bytes written for each. Asserts nothing.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { manifestPath } from '../../shared/destination/layout';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { runCommand } from '../../shared/exec';
import { parseManifest } from '../../shared/manifest';
import { spanWindowMs } from '../../shared/parts';
import { readCreatedAt } from '../../agent/roles/cassandra/snapshot-files';
import { cqlClient, ES_INDEX, esClient, KEYSPACE } from '../sandbox/clients';
import { readSandboxEnv, sandboxPaths } from '../sandbox/paths';
import { detBytes, flushAll } from '../sandbox/seed';
import { startWriter } from '../sandbox/writer';
import { runCli } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';

/** One row of the report. */
export interface IncrementalRow {
  step: string;
  id?: string;
  wallSeconds: number;
  bytes: number;
}

/** Bytes under a folder. */
async function du(dir: string): Promise<number> {
  const r = await runCommand(['du', '-sb', dir]);
  return Number(r.stdout.split('\t')[0]);
}

/** The sandbox's fleet file, pointed at a destination and state folder of the bench's own. */
export async function benchFleet(dir: string): Promise<string> {
  const fleet = parse(await readFile(join(sandboxPaths().state, 'fleet.yaml'), 'utf8'));
  fleet.destination = { type: 'local', path: join(dir, 'backups') };
  fleet.stateDir = join(dir, 'coordinator');
  await mkdir(fleet.destination.path, { recursive: true });
  const file = join(dir, 'fleet.yaml');
  await writeFile(file, stringify(fleet));
  return file;
}

/** About `share` of the seeded data again, as new rows, documents and attachments, then a flush. */
async function addNewData(share: number, round: number): Promise<void> {
  const seed = JSON.parse(await readFile(join(sandboxPaths().state, 'seed.json'), 'utf8'));
  const cql = cqlClient();
  await cql.connect();
  try {
    const rows = Math.ceil((seed.cassandra.bytes * share) / 1040);
    const insert = `INSERT INTO ${KEYSPACE}.edgestore (key, column1, value) VALUES (?, ?, ?)`;
    for (let i = 0; i < rows; i += 8) {
      const key = Buffer.from(`bench-${round}-${i}`.padEnd(16, '.'));
      const batch = Array.from({ length: Math.min(8, rows - i) }, (_, c) => {
        const column = Buffer.alloc(8);
        column.writeUInt32BE(c, 4);
        return { query: insert, params: [key, column, detBytes(`bench:${round}:${i + c}`, 1024)] };
      });
      await cql.batch(batch, { prepare: true, logged: false });
    }
  } finally {
    await cql.shutdown();
  }
  const es = esClient();
  try {
    const docs = Math.ceil((seed.elasticsearch.bytes * share) / 2048);
    const operations = Array.from({ length: docs }, (_, i) => [
      { index: { _index: ES_INDEX, _id: `bench-${round}-${i}` } },
      { title: `bench record ${i}`, payload: detBytes(`bench-es:${round}:${i}`, 1400).toString('base64') },
    ]).flat();
    for (let i = 0; i < operations.length; i += 2000) await es.bulk({ operations: operations.slice(i, i + 2000), refresh: false });
    await es.indices.refresh({ index: ES_INDEX });
  } finally {
    await es.close();
  }
  const files = sandboxPaths().files;
  for (let i = 0, bytes = 0; bytes < seed.files.bytes * share; i++, bytes += 32 * 1024) {
    const name = `bench${round}x${i}`.padEnd(64, '0');
    await runCommand(['mkdir', '-p', join(files, 'be', 'nc')]);
    await writeFile(join(files, 'be', 'nc', name), detBytes(`bench-file:${round}:${i}`, 32 * 1024));
  }
  await flushAll();
}

/** The seed's steps, node after node, into `out`: returns the bytes written. */
export async function seedSteps(out: string, tag: string): Promise<number> {
  const env = readSandboxEnv();
  for (const n of env.cassandra.nodes) {
    await runCommand([n.nodetool, 'snapshot', '-t', tag, KEYSPACE]);
    const ks = join(n.dataDir, KEYSPACE);
    for (const t of await readdir(ks)) {
      const snap = join(ks, t, 'snapshots', tag);
      if ((await readCreatedAt(snap)) === null) continue;
      // GNU tar exits 1 when a file changed while it read it (Cassandra rewrites a TOC under the hot writer): the archive is made, as in the seed's script.
      await runCommand(['tar', 'cjf', join(out, `${n.name}-${t}.tbz`), '-C', snap, '.'], { okCodes: [0, 1] });
    }
    await runCommand([n.nodetool, 'clearsnapshot', '-t', tag, '--', KEYSPACE]);
  }
  const es = esClient();
  try {
    // Into the sandbox's repository, as the vendor's script does; removed again after the bench.
    await es.snapshot.create({ repository: 'tandem', snapshot: tag, indices: ES_INDEX, wait_for_completion: true });
  } finally {
    await es.close();
  }
  await runCommand(['cp', '-a', sandboxPaths().files, join(out, 'files')]);
  return du(out);
}

/** Runs the chain and returns its rows. */
export async function benchIncremental(log: (m: string) => void = () => undefined): Promise<IncrementalRow[]> {
  await startWriter();
  const dir = await scratchDir('bench-incr');
  const fleetFile = await benchFleet(dir);
  const rows: IncrementalRow[] = [];
  const backup = async (step: string, args: string[] = []) => {
    const t0 = Date.now();
    const r = await runCli(['backup', '--config', fleetFile, '--json', ...args]);
    const o = JSON.parse(r.stdout || '{}');
    if (o.status !== 'complete') throw new Error(`${step}: tandem backup did not complete: ${r.stderr.slice(-2000)}`);
    rows.push({ step, id: o.id, wallSeconds: (Date.now() - t0) / 1000, bytes: o.bytes });
    const phases = Object.entries((o.phasesMs ?? {}) as Record<string, number>).map(([k, v]) => `${k} ${v} ms`).join(', ');
    log(`${step}: ${rows.at(-1)!.wallSeconds.toFixed(1)} s, ${o.bytes} bytes (${phases})`);
    log(`  where each node's shipping went: ${await shippingBreakdown(join(dir, 'backups'), o.id)}`);
    return o.id as string;
  };
  const drill = async (step: string, id: string) => {
    const t0 = Date.now();
    const r = await runCli(['drill', id, '--config', fleetFile, '--scratch-dir', join(dir, 'drill'), '--json']);
    if (r.code !== 0) throw new Error(`${step}: tandem drill failed: ${r.stderr.slice(-2000)}`);
    rows.push({ step, id, wallSeconds: (Date.now() - t0) / 1000, bytes: 0 });
    log(`${step}: ${rows.at(-1)!.wallSeconds.toFixed(1)} s`);
  };
  const tag = `bench-seed-${Date.now()}`;
  try {
    await withEsSnapshotsRemoved(async () => {
    const full = await backup('(a) full set', ['--full']);
    await backup('(b) nothing changed');
    await addNewData(0.05, 1);
    await backup('(c) ~5 % new data, flushed');
    await Promise.all(readSandboxEnv().cassandra.nodes.map((n) => runCommand([n.nodetool, 'compact', KEYSPACE, 'edgestore'], { timeoutMs: 3_600_000 })));
    await backup('(d) after nodetool compact edgestore');
    const t0 = Date.now();
    const out = await scratchDir('seed', dir);
    const bytes = await seedSteps(out, tag);
    rows.push({ step: "(e) the seed's steps, node after node", wallSeconds: (Date.now() - t0) / 1000, bytes });
    removeScratch(out);
    let last = '';
    for (let i = 5; i <= 7; i++) {
      await addNewData(0.01, i);
      last = await backup(`chain set ${i} (~1 % new data)`);
    }
    await drill('drill of the full set (a)', full);
    await drill('drill of the 7th set of the chain', last);
    });
  } finally {
    removeScratch(dir);
  }
  return rows;
}

/** Per node, from the manifest's timeline: the archives' span, the bytes they read, and the row count's span. */
async function shippingBreakdown(destination: string, id: string): Promise<string> {
  const m = parseManifest(await readFile(join(destination, manifestPath(id))), id);
  return m.nodes.map((n) => {
    const spans = n.timeline ?? [];
    const archives = spans.filter((s) => s.phase === 'archive');
    const mb = archives.reduce((a, s) => a + (s.bytesIn ?? 0), 0) / 1e6;
    return `${n.node} archives ${spanWindowMs(archives)} ms (${mb.toFixed(1)} MB read), count ${spanWindowMs(spans.filter((s) => s.phase === 'count'))} ms`;
  }).join('; ');
}

/** Runs `work`, then deletes the Elasticsearch snapshots it left in the sandbox's repository (the bench's sets, the seed's steps). */
export async function withEsSnapshotsRemoved<T>(work: () => Promise<T>): Promise<T> {
  const before = await esSnapshots();
  try {
    return await work();
  } finally {
    const es = esClient();
    for (const s of await esSnapshots()) if (!before.has(s)) await es.snapshot.delete({ repository: 'tandem', snapshot: s }).catch(() => undefined);
    await es.close();
  }
}

/** The snapshots in the sandbox's repository. */
async function esSnapshots(): Promise<Set<string>> {
  const es = esClient();
  try {
    // A fresh sandbox has no repository until the first backup registers it: no snapshots then.
    const r = await es.snapshot.get({ repository: 'tandem', snapshot: '_all' }).catch((err: { meta?: { statusCode?: number } }) => {
      if (err.meta?.statusCode === 404) return { snapshots: [] };
      throw err;
    });
    return new Set(r.snapshots?.map((s) => s.snapshot) ?? []);
  } finally {
    await es.close();
  }
}
