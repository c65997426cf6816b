/**
 * Restore of the cassandra role, in the phases the coordinator drives on every node:
 *   fetch  — download this node's table archives, check their size and sha256, then extract them safely
 *   schema — (one node) recreate the keyspace from schema.cql, or truncate its tables
 *   load   — `nodetool import`'s call through the helper JVM (same topology) or `sstableloader` (another cluster)
 *   verify — rows per restored table, against the rows the nodes held at the cut
 *   cleanup — drop a drill's scratch keyspace; clear the snapshots Cassandra took of what was replaced
 */
import { mkdir, readdir, rm, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'cassandra-driver';
import { TandemError, ValidationError } from '../../../shared/errors';
import { runPool } from '../../../shared/pool';
import { systemExec, type CommandRunner, type Exec, type ProcessSpawner } from '../../../shared/exec';
import { checkCqlName } from '../../../shared/names';
import { nodesWith } from '../../../shared/manifest';
import type { ShippedTable, TableContents, TableRowCount } from '../../../shared/parts/cassandra';
import type { TableRows } from '../../../shared/generated/tandem/v2/agent';
import { extractArchive } from '../../archive';
import { checkFreeSpace, fetchChecked } from '../../archive/fetch';
import type { PhaseOutcome, RestoreContext, RestorePhase } from '../role';
import type { CassandraSettings } from './config';
import { cassandraDriver, withSession } from './cql';
import type { CassandraHelper } from './helper';
import { clearRestoreSnapshots, recordRestoreStart } from './restore-snapshots';
import { loadSchema, waitForAgreement } from './schema';
import { expectedRows, rowCountProblem } from './expected-rows';
import { archivesOf, backedUpKeyspaces, contentsOf, sources, tablesOf, targetKeyspace, type ArchiveToExtract } from './restore-tables';

/** Tables fetched side by side. */
const FETCH_TABLES_AT_ONCE = 2;

/** Folder of one table's SSTables, laid out `<ks>/<table>` as sstableloader requires. */
const tableDir = (ctx: RestoreContext, source: string, ks: string, table: string) => join(ctx.workDir, source, ks, table);

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/**
 * Downloads, checks and extracts every archive this node loads. Already fetched tables are skipped.
 * Each archive is downloaded whole and its size and sha256 checked against the manifest before
 * any byte of it is extracted; what contents.json records bounds the extraction (free space up
 * front, no entry or total beyond the recorded sizes).
 */
async function fetch(ctx: RestoreContext, spawn: ProcessSpawner): Promise<PhaseOutcome> {
  let fetched = 0;
  let skipped = 0;
  const contents = new Map<string, Map<string, TableContents>>();
  for (const source of sources(ctx)) contents.set(source, await contentsOf(ctx, source));
  const work = sources(ctx).flatMap((source) => tablesOf(ctx, source).map((t) => ({
    source, t, archives: archivesOf(ctx, source, t, contents.get(source)!.get(`${t.keyspace}.${t.table}`)),
  })));
  const sizeOf = (w: (typeof work)[number]) => w.archives.reduce((n, a) => n + a.ref.size, 0);
  const progress = { phase: 'fetch', filesDone: 0, filesTotal: work.length, bytesDone: 0, bytesTotal: work.reduce((n, w) => n + sizeOf(w), 0) };
  const step = (w: (typeof work)[number]) => ctx.progress({ ...progress, filesDone: ++progress.filesDone, bytesDone: (progress.bytesDone += sizeOf(w)) });
  const doneMarker = (source: string, t: ShippedTable) => join(ctx.workDir, source, `.${t.keyspace}.${t.table}.fetched`);
  // Checked before the first download: the extracted files plus the largest archives, while they are there.
  const todo: typeof work = [];
  for (const w of work) if (!(await exists(doneMarker(w.source, w.t)))) todo.push(w);
  await mkdir(ctx.workDir, { recursive: true });
  const largest = todo.flatMap((w) => w.archives.map((a) => a.ref.size)).sort((a, b) => b - a).slice(0, FETCH_TABLES_AT_ONCE);
  const need = todo.reduce((n, w) => n + w.archives.reduce((m, a) => m + a.files.reduce((k, f) => k + f.size, 0), 0), 0) + largest.reduce((n, x) => n + x, 0);
  await checkFreeSpace(ctx.workDir, need, `fetching ${todo.length} tables' archives`, "free some space, or put the agent's stateDir on a larger file system");
  // A table's download and checks (one core) overlap another's decompression (lbzip2, every core).
  await runPool(work, FETCH_TABLES_AT_ONCE, ctx.signal, async (w, _i, signal) => {
    const { source, t } = w;
    const dir = tableDir(ctx, source, targetKeyspace(ctx, t.keyspace), t.table);
    const done = doneMarker(source, t);
    if (await exists(done)) {
      skipped++;
      step(w);
      return;
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      for (const a of w.archives) await fetchAndExtract(ctx, spawn, source, t, a, dir, signal);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    // Cassandra's snapshot bookkeeping files are not SSTables: leave only what import/loader read.
    await rm(join(dir, 'manifest.json'), { force: true });
    await rm(join(dir, 'schema.cql'), { force: true });
    await writeFile(done, t.sha256);
    fetched++;
    step(w);
  });
  return { detail: `${fetched} ${fetched === 1 ? 'table' : 'tables'} fetched and checked` + (skipped ? `, ${skipped} already there` : '') };
}

/** Downloads one archive, checks it against the manifest, and extracts the files wanted of it into `dir`, each checked; `signal` stops it. */
async function fetchAndExtract(ctx: RestoreContext, spawn: ProcessSpawner, source: string, t: ShippedTable, a: ArchiveToExtract, dir: string, signal: AbortSignal): Promise<void> {
  const archive = join(ctx.workDir, source, `.${t.keyspace}.${t.table}.archive`);
  let extracted: Awaited<ReturnType<typeof extractArchive>>;
  try {
    await fetchChecked(ctx.destination, a.ref, archive, signal);
    extracted = await extractArchive({
      archive,
      targetDir: dir,
      compression: 'auto',
      signal,
      spawn,
      include: a.partial ? new Set(a.files.map((f) => f.path)) : undefined,
      maxEntryBytes: Math.max(0, ...a.files.map((f) => f.size)),
      maxTotalBytes: a.files.reduce((n, f) => n + f.size, 0),
    });
  } finally {
    await rm(archive, { force: true });
  }
  const want = new Map(a.files.map((c) => [c.path, c.sha256]));
  for (const f of extracted.files) {
    if (want.get(f.path) !== f.sha256) throw new TandemError(`${a.ref.path}: ${f.path} differs from the snapshot file recorded at backup`);
    want.delete(f.path);
  }
  if (want.size) throw new TandemError(`${a.ref.path} lacks ${want.size} file(s) recorded at backup, e.g. ${[...want.keys()][0]}`);
}

/** Loads every fetched table: import into the local node, or stream with sstableloader. */
async function load(s: CassandraSettings, ctx: RestoreContext, helper: CassandraHelper, run: CommandRunner): Promise<PhaseOutcome> {
  const mode = ctx.options.cassandraLoad;
  const hosts = ctx.options.cassandraHosts.length ? ctx.options.cassandraHosts : [s.cql.host];
  const loaded: string[] = [];
  const all = sources(ctx).flatMap((source) => tablesOf(ctx, source));
  let done = 0;
  for (const source of sources(ctx)) {
    for (const t of tablesOf(ctx, source)) {
      ctx.progress({ phase: mode, filesDone: done++, filesTotal: all.length });
      const ks = targetKeyspace(ctx, t.keyspace);
      const dir = tableDir(ctx, source, ks, t.table);
      if (!(await readdir(dir).catch(() => [])).some((f) => f.endsWith('-Data.db'))) continue; // nothing left: already loaded
      if (mode === 'import') {
        // import moves the SSTables into the live table, so a repeated load finds nothing to do.
        ctx.signal.throwIfAborted();
        await helper.importTable(ks, t.table, dir);
        // An import that found nothing it would load ("No new SSTables were found") answers without
        // an error; what Cassandra loads it moves out of the folder, so anything left was not loaded.
        const left = (await readdir(dir)).filter((f) => f.endsWith('-Data.db'));
        if (left.length) {
          throw new TandemError(`nodetool import left ${left.length} SSTable(s) in ${dir} (e.g. ${left[0]}): Cassandra did not load them into ${ks}.${t.table}; see its system.log`);
        }
      } else {
        await run([s.sstableloader, '--no-progress', '-d', hosts.join(','), dir], { timeoutMs: 6 * 3_600_000, signal: ctx.signal });
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
      }
      loaded.push(`${source}:${ks}.${t.table}`);
    }
  }
  return { detail: `${loaded.length} tables loaded with ${mode === 'import' ? 'nodetool import' : 'sstableloader'}` };
}

/**
 * Rows per restored table, read back over CQL at consistency ALL (so every replica's data is
 * merged, as the backup's counts were), compared with what the nodes held at the cut. One agent
 * (the one that recreated the schema) counts for the whole cluster.
 */
async function verify(s: CassandraSettings, ctx: RestoreContext): Promise<PhaseOutcome | null> {
  if (!ctx.options.createSchema) return null;
  const counts = new Map<string, { target: string; counts: TableRowCount[] }>();
  const nodes = nodesWith(ctx.manifest, 'cassandra');
  for (const n of nodes) {
    for (const t of n.parts.cassandra.tables) {
      const key = `${t.keyspace}.${t.table}`;
      const entry = counts.get(key) ?? { target: `${targetKeyspace(ctx, t.keyspace)}.${t.table}`, counts: [] };
      if (t.count) entry.counts.push(t.count);
      counts.set(key, entry);
    }
  }
  if (!counts.size) return null;
  const tables: TableRows[] = [];
  const problems: string[] = [];
  await withSession(s, async (c) => {
    for (const [, { target, counts: recorded }] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
      const [ks, table] = target.split('.');
      const actual = await countRowsOverCql(c, ks, table);
      const expected = recorded.length === nodes.length ? expectedRows(recorded) : null;
      tables.push({ table: target, actual, counted: expected !== null, rows: expected?.rows ?? 0, upTo: expected?.upTo ?? 0, exact: expected?.exact ?? false });
      const problem = rowCountProblem(target, actual, expected);
      if (problem) problems.push(problem);
    }
  });
  return { tables, ok: problems.length === 0, problems };
}

/** Rows of a table as CQL serves them at consistency ALL, paging over the first partition key column. */
async function countRowsOverCql(c: Client, ks: string, table: string): Promise<number> {
  const cols = await c.execute(
    "SELECT column_name, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND kind = 'partition_key' ALLOW FILTERING",
    [ks, table],
    { prepare: true },
  );
  const first = cols.rows.find((r) => r.position === 0)?.column_name as string | undefined;
  if (!first) throw new TandemError(`table ${ks}.${table} was not found after the restore`);
  let n = 0;
  let pageState: string | undefined;
  do {
    const r = await c.execute(`SELECT "${first.replace(/"/g, '""')}" FROM "${checkCqlName(ks)}"."${checkCqlName(table)}"`, [], {
      fetchSize: 5000,
      pageState,
      consistency: cassandraDriver().types.consistencies.all,
    });
    n += r.rowLength;
    pageState = r.pageState;
  } while (pageState);
  return n;
}

/** Runs one restore phase of the cassandra role; programs go through `exec`. */
export async function restoreCassandra(s: CassandraSettings, phase: RestorePhase, ctx: RestoreContext, helper: CassandraHelper | null = null, exec: Exec = systemExec): Promise<PhaseOutcome | null> {
  // fetch, schema and verify read files and CQL only; load and cleanup call the node.
  const node = () => {
    if (!helper) throw new TandemError(`the ${phase} phase needs the node's JMX helper`);
    return helper;
  };
  switch (phase) {
    case 'fetch':
      await recordRestoreStart(ctx);
      return fetch(ctx, exec.spawn);
    case 'schema':
      return ctx.options.createSchema ? loadSchema(s, ctx) : null;
    case 'load':
      return load(s, ctx, node(), exec.run);
    case 'verify':
      return verify(s, ctx);
    case 'cleanup': {
      const dropped = await dropScratch(s, ctx);
      const keyspaces = new Set([...backedUpKeyspaces(ctx)].map((k) => targetKeyspace(ctx, k)));
      const cleared = await clearRestoreSnapshots(ctx, node(), keyspaces);
      return { detail: [dropped?.detail, cleared].filter(Boolean).join('; ') };
    }
    default:
      return null;
  }
}

/** Drill teardown: drops the scratch keyspace, never the one that was backed up. */
async function dropScratch(s: CassandraSettings, ctx: RestoreContext): Promise<PhaseOutcome | null> {
  const target = ctx.options.targetKeyspace;
  if (!ctx.options.dropScratch || !ctx.options.createSchema || !target) return null;
  if (backedUpKeyspaces(ctx).has(target)) throw new ValidationError(`refusing to drop ${target}: it is a keyspace the backup came from, not a scratch copy`);
  await withSession(s, async (c) => {
    await c.execute(`DROP KEYSPACE IF EXISTS "${checkCqlName(target)}"`);
    // Every node has taken its dropped-* snapshot once it agrees on the schema: the other nodes'
    // cleanup, which the coordinator runs after this one, clears theirs.
    await waitForAgreement(c);
  });
  return { detail: `dropped ${target}` };
}
