/**
 * `npm run bench -- restore-node [--runs N] [--node NAME]`: one Cassandra node's restore, per node
 * and not per box (the sandbox runs three nodes on two cores), side by side in one run on the same
 * full set of the sandbox's own fleet, hot writer running:
 *   (a) the vendor's commands for that node alone: `tar xjf` of each table's archive straight from
 *       the destination, then `nodetool import` of the table;
 *   (b) that node's tandem-agent alone, called as the coordinator calls it: the restore phases
 *       fetch (download, size and sha256 check, extraction with the parallel bzip2 decompressor,
 *       every file's sha256 against contents.json) and load (`nodetool import`'s call through the
 *       warm helper JVM).
 * Each loads into its own scratch keyspace made beforehand from the set's schema.cql (untimed), and
 * the node's live bytes in each are compared afterwards. Asserts nothing.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCommand } from '../../shared/exec';
import { manifestDigest, nodesWith, parseManifest } from '../../shared/manifest';
import { toWireDestination } from '../../shared/wire/destination';
import { parseRestoreOptions, toWirePhase, toWireRestoreOptions } from '../../shared/wire/restore';
import { rewriteStatement, splitStatements } from '../../agent/roles/cassandra/schema';
import { loadFleetConfig } from '../../coordinator/config';
import { openFleet } from '../../coordinator/fleet';
import { cqlClient, KEYSPACE } from '../sandbox/clients';
import { readSandboxEnv } from '../sandbox/paths';
import { startAgents, stopAgents } from '../sandbox/fleet';
import { startWriter, stopWriter } from '../sandbox/writer';
import { runCli } from '../helpers/fleet';
import { benchFleet, withEsSnapshotsRemoved } from './incremental';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { median, roundOrder, slowest } from './stats';

const VENDOR_KS = 'thehive_vendor_node';
const TANDEM_KS = 'thehive_tandem_node';

/** One run: both ways, seconds. */
export interface RestoreNodeRun {
  vendorSeconds: number;
  tandemSeconds: number;
  /** tandem's phases, seconds. */
  fetchSeconds: number;
  loadSeconds: number;
  /** The node's live bytes of the scratch keyspace each way loaded (nodetool tablestats). */
  vendorLiveBytes: number;
  tandemLiveBytes: number;
}

/** Backs up the sandbox once (full), then restores one node's part both ways, `runs` times. */
export async function benchRestoreNode(runs: number, nodeName: string, log: (m: string) => void): Promise<{ tables: number; bytes: number; runs: RestoreNodeRun[] }> {
  const env = readSandboxEnv();
  const node = env.cassandra.nodes.find((n) => n.name === nodeName);
  if (!node) throw new Error(`the sandbox has no Cassandra node ${nodeName}`);
  const dir = await scratchDir('bench-restore-node');
  const fleetFile = await benchFleet(dir);
  const fleet = loadFleetConfig(fleetFile);
  const cql = cqlClient();
  await cql.connect();
  const scratch = async (ks: string) => {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    // DROP keeps the data as dropped-* snapshots (auto_snapshot): clear them on every node.
    for (const n of env.cassandra.nodes) await runCommand([n.nodetool, 'clearsnapshot', '--all', '--', ks]);
  };
  try {
    return await withEsSnapshotsRemoved(async () => {
      await stopWriter();
      await stopAgents();
      await startAgents(() => undefined);
      await startWriter();
      const b = await runCli(['backup', '--config', fleetFile, '--json', '--full']);
      const id = JSON.parse(b.stdout || '{}').id as string;
      if (JSON.parse(b.stdout || '{}').status !== 'complete') throw new Error(`backup failed: ${b.stderr.slice(-2000)}`);
      const destPath = (fleet.destination as { path: string }).path;
      const setDir = join(destPath, id);
      const manifestBytes = await readFile(join(setDir, 'manifest.json'));
      const manifest = parseManifest(manifestBytes, id);
      const part = nodesWith(manifest, 'cassandra').find((n) => n.node === nodeName);
      if (!part) throw new Error(`set ${id} has no cassandra part of ${nodeName}`);
      const tables = part.parts.cassandra.tables;
      const schema = splitStatements(await readFile(join(setDir, nodeName, 'cassandra', KEYSPACE, 'schema.cql'), 'utf8'));
      const [agent] = openFleet(fleet.agents.filter((a) => a.node === nodeName), fleet.tls);
      const out: RestoreNodeRun[] = [];
      for (let run = 1; run <= runs; run++) {
        for (const ks of [VENDOR_KS, TANDEM_KS]) {
          await scratch(ks);
          for (const s of schema) await cql.execute(rewriteStatement(s, KEYSPACE, ks));
          // Compacting what was imported changes its live bytes at whatever moment it runs: off, so
          // the two ways' bytes compare exactly.
          await runCommand([node.nodetool, 'disableautocompaction', '--', ks]);
        }
        // (a) the vendor's commands, that node alone.
        const vendor = async () => {
          const work = join(dir, `vendor-${run}`);
          const t0 = Date.now();
          for (const t of tables) {
            // Laid out <keyspace>/<table>: Cassandra reads the keyspace and table of an SSTable from
            // its folders and imports nothing, exit code 0, from a folder named otherwise.
            const into = join(work, VENDOR_KS, t.table);
            await mkdir(into, { recursive: true });
            await runCommand(['tar', 'xjf', join(destPath, t.path), '-C', into]);
            await runCommand([node.nodetool, 'import', VENDOR_KS, t.table, into]);
          }
          vendorSeconds = (Date.now() - t0) / 1000;
          await rm(work, { recursive: true, force: true });
        };
        // (b) the agent, that node alone, as the coordinator drives it.
        const tandem = async () => {
          const restoreId = `restore-bench-${Date.now().toString(36)}`;
          const options = toWireRestoreOptions(parseRestoreOptions({
            targetKeyspace: TANDEM_KS, cassandraSources: [nodeName], cassandraLoad: 'import', skipRoles: ['elasticsearch', 'files'],
          }));
          const request = (phase: 'fetch' | 'load' | 'cleanup') => ({
            restoreId, backupId: id, phase: toWirePhase(phase), destination: toWireDestination(fleet.destination), options,
            manifestSha256: manifestDigest(manifestBytes), setIdentities: [],
          });
          t1 = Date.now();
          await agent.restore(request('fetch'), 3_600_000);
          t2 = Date.now();
          await agent.restore(request('load'), 3_600_000);
          t3 = Date.now();
          await agent.restore(request('cleanup'), 600_000);
        };
        let vendorSeconds = 0, t1 = 0, t2 = 0, t3 = 0;
        // Rotated from run to run: neither way always reads the archives from a cold page cache.
        for (const way of roundOrder([vendor, tandem], run - 1)) await way();
        // The same SSTables imported either way: the node's live bytes of the two keyspaces match.
        const liveBytes = async (ks: string) => {
          let n = 0;
          for (const t of tables) n += Number((await runCommand([node.nodetool, 'tablestats', '--', `${ks}.${t.table}`])).stdout.match(/Space used \(live\): (\d+)/)?.[1] ?? NaN);
          return n;
        };
        const [vendorLiveBytes, tandemLiveBytes] = [await liveBytes(VENDOR_KS), await liveBytes(TANDEM_KS)];
        if (!(vendorLiveBytes > 0) || vendorLiveBytes !== tandemLiveBytes) {
          throw new Error(`the two ways did not load the same SSTables (live bytes: vendor ${vendorLiveBytes}, tandem ${tandemLiveBytes}): no ratio to report`);
        }
        out.push({
          vendorSeconds, tandemSeconds: (t3 - t1) / 1000, fetchSeconds: (t2 - t1) / 1000, loadSeconds: (t3 - t2) / 1000,
          vendorLiveBytes, tandemLiveBytes,
        });
        log(`run ${run}/${runs}: vendor ${vendorSeconds.toFixed(1)} s, tandem ${out.at(-1)!.tandemSeconds.toFixed(1)} s`);
      }
      return { tables: tables.length, bytes: tables.reduce((n, t) => n + t.size, 0), runs: out };
    });
  } finally {
    await stopWriter();
    for (const ks of [VENDOR_KS, TANDEM_KS]) await scratch(ks).catch(() => undefined);
    await cql.shutdown();
    removeScratch(dir);
  }
}

/** `npm run bench -- restore-node …`: prints each run and the ratio, median and worst. */
export async function restoreNodeMain(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '3' }, node: { type: 'string', default: 'node1' } } });
  const r = await benchRestoreNode(Number(values.runs), values.node!, (m) => console.error(m));
  const worst = slowest;
  const col = (f: (x: RestoreNodeRun) => number) => r.runs.map(f);
  console.log(`one node's restore (${values.node}: ${r.tables} table archives, ${(r.bytes / 2 ** 20).toFixed(1)} MB), ${r.runs.length} runs, hot writer running`);
  console.log(`  ${'way'.padEnd(64)} ${'median'.padStart(8)} ${'worst'.padStart(8)}  live bytes loaded per run`);
  const line = (what: string, xs: number[], rows = '') => console.log(`  ${what.padEnd(64)} ${`${median(xs).toFixed(1)} s`.padStart(8)} ${`${worst(xs).toFixed(1)} s`.padStart(8)}  ${rows}`);
  line("(a) vendor: tar xjf + nodetool import per table", col((x) => x.vendorSeconds), col((x) => x.vendorLiveBytes).join(', '));
  line('(b) tandem-agent: fetch + load', col((x) => x.tandemSeconds), col((x) => x.tandemLiveBytes).join(', '));
  line('    of which fetch (download, checks, extraction)', col((x) => x.fetchSeconds));
  line('    of which load (import through the helper JVM)', col((x) => x.loadSeconds));
  const ratios = col((x) => x.tandemSeconds / x.vendorSeconds);
  console.log(`  tandem / vendor per run: ${ratios.map((x) => x.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}×, worst ${worst(ratios).toFixed(2)}× (target ≤ 0.5×)`);
}
