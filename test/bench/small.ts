/**
 * `npm run bench -- small`: the fixed costs of a small installation, on the sandbox as seeded (the
 * issue's figures are for `seed --size 5MB`) with its own fleet and roles. Backups in a row without
 * and then with the hot writer (wall time of the CLI, its phases, the Cassandra nodes' snapshot
 * spread and the spread across the three stores), the first backup after the agents start (the
 * helper JVM compiled and started), drills of the last set, and the seed's steps on the same data.
 */
import { readFile } from 'node:fs/promises';
import { manifestPath } from '../../shared/destination/layout';
import { join } from 'node:path';
import { parseManifest } from '../../shared/manifest';
import { startAgents, stopAgents } from '../sandbox/fleet';
import { startWriter, stopWriter } from '../sandbox/writer';
import { runCli } from '../helpers/fleet';
import { benchFleet, seedSteps, withEsSnapshotsRemoved } from './incremental';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { median, slowest } from './stats';

/** One measured step. */
interface Run {
  wallSeconds: number;
  snapshotSpreadMs?: number;
  crossStoreSpreadMs?: number;
  /** Spread of the instants Commit reached the agents (each one's commit span). */
  commitArrivalSpreadMs?: number;
  /** Spread of the instants the helper JVMs sent Cassandra's snapshot request (requestedAt). */
  requestSpreadMs?: number;
  phasesMs?: Record<string, number>;
}

/** One row of the report: a step's runs, summarised. */
export interface SmallRow {
  what: string;
  target: string;
  runs: Run[];
}

const worst = slowest;

/** Runs the bench; `runs` backups per condition (at least 10 for the spread figures). */
export async function benchSmall(runs = 10, log: (m: string) => void = () => undefined): Promise<SmallRow[]> {
  const dir = await scratchDir('bench-small');
  const fleetFile = await benchFleet(dir);
  const backup = async (args: string[] = []): Promise<Run & { id: string }> => {
    const t0 = Date.now();
    const r = await runCli(['backup', '--config', fleetFile, '--json', ...args]);
    const o = JSON.parse(r.stdout || '{}');
    if (o.status !== 'complete') throw new Error(`tandem backup did not complete: ${r.stderr.slice(-2000)}`);
    const wallSeconds = (Date.now() - t0) / 1000;
    return { id: o.id, wallSeconds, snapshotSpreadMs: o.snapshotSpreadMs, crossStoreSpreadMs: o.crossStoreSpreadMs, phasesMs: o.phasesMs, ...(await agentInstants(dir, o.id)) };
  };
  const series = async (what: string, target: string, n: number, step: () => Promise<Run>): Promise<SmallRow> => {
    const row: SmallRow = { what, target, runs: [] };
    for (let i = 0; i < n; i++) {
      row.runs.push(await step());
      log(`${what} ${i + 1}/${n}: ${row.runs.at(-1)!.wallSeconds.toFixed(1)} s`);
    }
    return row;
  };
  const rows: SmallRow[] = [];
  try {
    return await withEsSnapshotsRemoved(async () => {
      await stopWriter();
      await stopAgents();
      await startAgents(() => undefined);
      rows.push(await series('first backup after the agents start (full)', '', 1, () => backup(['--full'])));
      rows.push(await series('backup (incremental), no load', '< 8 s', runs, () => backup()));
      await startWriter();
      rows.push(await series('backup (incremental), hot writer running', '< 8 s', runs, () => backup()));
      // The row to put beside the seed's steps, which copy everything every time.
      rows.push(await series('backup --full, hot writer running', '< 8 s', 3, () => backup(['--full'])));
      const last = await backup();
      rows.push(await series('drill of the last set', '< 20 s', 3, async () => {
        const t0 = Date.now();
        const r = await runCli(['drill', last.id, '--config', fleetFile, '--scratch-dir', join(dir, 'drill'), '--json']);
        if (r.code !== 0) throw new Error(`tandem drill failed: ${r.stderr.slice(-2000)}`);
        return { wallSeconds: (Date.now() - t0) / 1000 };
      }));
      rows.push(await series("the seed's steps, node after node (hot writer running)", '', 3, async () => {
        const out = await scratchDir('seed', dir);
        const t0 = Date.now();
        await seedSteps(out, `bench-seed-${Date.now()}`);
        const wallSeconds = (Date.now() - t0) / 1000;
        removeScratch(out);
        return { wallSeconds };
      }));
      return rows;
    });
  } finally {
    await stopWriter();
    removeScratch(dir);
  }
}

/**
 * Where a set's node spread comes from, from its manifest: the spread of the instants Commit
 * reached the agents, and of those the snapshot requests left for Cassandra. Cassandra's own
 * spread (created_at, snapshotSpreadMs) is what remains after them.
 */
async function agentInstants(dir: string, id: string): Promise<Pick<Run, 'commitArrivalSpreadMs' | 'requestSpreadMs'>> {
  const m = parseManifest(await readFile(join(dir, 'backups', manifestPath(id))), id);
  const spread = (xs: (number | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number');
    return v.length > 1 ? Math.max(...v) - Math.min(...v) : undefined;
  };
  return {
    commitArrivalSpreadMs: spread(m.nodes.map((n) => n.timeline?.find((t) => t.phase === 'commit')?.startedAt)),
    requestSpreadMs: spread(m.nodes.map((n) => n.commits.cassandra?.requestedAt)),
  };
}

/** Prints the rows: wall time, then the spreads and phases where the runs have them. */
export function printSmall(rows: readonly SmallRow[]): void {
  const ms = (xs: (number | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number');
    return v.length ? `${String(median(v)).padStart(4)} / ${String(worst(v)).padStart(4)} ms` : '';
  };
  console.log(`  ${'step'.padEnd(56)} ${'runs'.padStart(4)} ${'wall median / worst'.padStart(20)}  ${'target'.padEnd(7)} node spread    across stores`);
  for (const r of rows) {
    const wall = r.runs.map((x) => x.wallSeconds);
    console.log(`  ${r.what.padEnd(56)} ${String(r.runs.length).padStart(4)} ${`${median(wall).toFixed(1)} / ${worst(wall).toFixed(1)} s`.padStart(20)}  ${r.target.padEnd(7)} ${ms(r.runs.map((x) => x.snapshotSpreadMs)).padEnd(14)} ${ms(r.runs.map((x) => x.crossStoreSpreadMs))}`);
    const arrival = ms(r.runs.map((x) => x.commitArrivalSpreadMs));
    if (arrival) console.log(`  ${''.padEnd(56)}      of the node spread: Commit reached the agents ${arrival}, the snapshot requests left ${ms(r.runs.map((x) => x.requestSpreadMs))}`);
    const phases = r.runs.filter((x) => x.phasesMs).map((x) => x.phasesMs!);
    if (phases.length > 1) {
      const names = Object.keys(phases[0]);
      console.log(`  ${''.padEnd(56)}      phases (median ms): ${names.map((n) => `${n} ${median(phases.map((p) => p[n] ?? 0))}`).join(', ')}`);
    }
  }
}
