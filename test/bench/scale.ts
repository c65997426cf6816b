/**
 * `npm run bench -- scale [--sizes 3,50,200,500] [--runs N] [--per-host N] [--profile DIR]`: one
 * two-phase backup round over hundreds of agents on this machine, through the real `tandem
 * backup` CLI, real gRPC and mutual TLS (test/helpers/many-agents.ts: rehearsal agents, 50 per
 * process by default, local-folder destination). For each size and run: the prepare and commit
 * rounds, the spread of Commit's arrival across agents (each agent's wall clock on arrival:
 * every host is on this machine), the cut spread (the manifest's), the coordinator's peak RSS
 * and CPU time, and the wall time. Prints median and worst per size beside the targets.
 * --profile DIR writes a V8 CPU profile of every process (the CLI's and each host's) into DIR.
 * Needs no sandbox; asserts nothing.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Arrival } from '../helpers/agent-host';
import { startManyAgents, type MeasuredRun, runCliMeasured } from '../helpers/many-agents';
import { median } from './stats';

const ROOT = resolve(__dirname, '../../..');

/** What one run measured; times in ms, sizes in bytes. */
export interface ScaleRun {
  agents: number;
  ok: boolean;
  reason: string;
  /** First Prepare's arrival to the last vote's answer, on the agents' side. */
  prepareMs: number;
  /** First Commit's arrival to the last Commit's answer, on the agents' side. */
  commitMs: number;
  /** The coordinator's "prepare" line to its "shipping" line: both rounds as it saw them (its journal writes included). */
  roundsMs: number;
  /** Last Commit's arrival minus the first's. */
  commitSpreadMs: number;
  /** The manifest's snapshot spread: the last cut minus the first (the rehearsal role cuts when its Commit work runs). */
  cutSpreadMs: number;
  peakRssBytes: number;
  cpuMs: number;
  wallMs: number;
  /** The coordinator's own per-phase timings, when its --json output has them. */
  phasesMs?: Record<string, number>;
}

/** The instant of the first stderr line that starts with `prefix`. */
function lineAt(run: MeasuredRun, prefix: string): number {
  return run.stderr.find((l) => l.text.startsWith(prefix))?.at ?? NaN;
}

/** Measures one backup over `agents` from the CLI's run and the agents' arrivals. */
function measure(agents: number, run: MeasuredRun, arrivals: Arrival[]): ScaleRun {
  const out = (() => {
    try {
      return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { id: string; status: string; reason: string; snapshotSpreadMs?: number | null; phasesMs?: Record<string, number> };
    } catch {
      return { id: '', status: 'no JSON', reason: run.stderr.slice(-5).map((l) => l.text).join(' | ') };
    }
  })();
  const of = (method: Arrival['method']) => arrivals.filter((a) => a.method === method && a.backupId === out.id);
  const span = (xs: Arrival[], from: (a: Arrival) => number, to: (a: Arrival) => number) =>
    xs.length ? Math.max(...xs.map(to)) - Math.min(...xs.map(from)) : NaN;
  const prepares = of('prepare');
  const commits = of('commit');
  return {
    agents,
    ok: out.status === 'complete' && commits.length === agents,
    reason: out.status === 'complete' ? (commits.length === agents ? '' : `${commits.length} commits recorded`) : `${out.status}: ${out.reason}`.slice(0, 300),
    prepareMs: span(prepares, (a) => a.arrivedAt, (a) => a.answeredAt),
    commitMs: span(commits, (a) => a.arrivedAt, (a) => a.answeredAt),
    roundsMs: lineAt(run, '• shipping') - lineAt(run, '• prepare on'),
    commitSpreadMs: span(commits, (a) => a.arrivedAt, (a) => a.arrivedAt),
    cutSpreadMs: out.snapshotSpreadMs ?? NaN,
    peakRssBytes: run.peakRssBytes,
    cpuMs: run.cpuMs,
    wallMs: run.wallMs,
    ...(out.phasesMs ? { phasesMs: out.phasesMs } : {}),
  };
}

/** Runs `runs` backups over `size` agents. */
export async function benchScale(size: number, runs: number, perHost: number, onRun: (r: ScaleRun) => void, profileDir?: string): Promise<ScaleRun[]> {
  const fleet = await startManyAgents(size, {
    perHost,
    // Certificates are kept between runs of the bench: issuing 500 takes about 25 s.
    pki: join(ROOT, '.cache', 'scale-pki'),
    stateRoot: existsSync('/dev/shm') ? '/dev/shm' : undefined,
    profileDir,
  });
  const out: ScaleRun[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const run = await runCliMeasured(['backup', '-c', fleet.fleetFile, '--json'], { profileDir });
      const r = measure(size, run, await fleet.arrivals());
      onRun(r);
      out.push(r);
    }
  } finally {
    await fleet.stop();
  }
  return out;
}

const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '—');
const mb = (x: number) => `${Math.round(x / 2 ** 20)} MB`;

/** Median / worst of one figure over runs. */
function both(rows: ScaleRun[], pick: (r: ScaleRun) => number, fmt: (x: number) => string): string {
  const xs = rows.map(pick);
  return `${fmt(median(xs))} / ${fmt(Math.max(...xs))}`;
}

/** The report: one line per size, median / worst, and the targets at 500 agents. */
export function scaleTable(rows: ScaleRun[]): string {
  const sizes = [...new Set(rows.map((r) => r.agents))];
  const head = ['agents', 'runs ok', 'prepare round', 'commit round', 'prepare→shipping (coordinator)', 'Commit arrival spread', 'cut spread', 'coordinator peak RSS', 'coordinator CPU', 'wall'];
  const lines = sizes.map((n) => {
    const rs = rows.filter((r) => r.agents === n);
    return [String(n), `${rs.filter((r) => r.ok).length}/${rs.length}`, both(rs, (r) => r.prepareMs, ms), both(rs, (r) => r.commitMs, ms), both(rs, (r) => r.roundsMs, ms),
      both(rs, (r) => r.commitSpreadMs, ms), both(rs, (r) => r.cutSpreadMs, ms), both(rs, (r) => r.peakRssBytes, mb), both(rs, (r) => r.cpuMs, ms), both(rs, (r) => r.wallMs, ms)];
  });
  const target = ['target at 500', '', 'prepare + commit < 1 s', '', '', '< 50 ms', '', '< 300 MB', '', ''];
  return [head, ...lines, target].map((l) => `| ${l.join(' | ')} |`).join('\n').replace(/\n/, `\n|${head.map(() => '---').join('|')}|\n`);
}

/** `npm run bench -- scale …`: prints each run, then the table (median / worst). */
export async function scaleMain(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { sizes: { type: 'string', default: '3,50,200,500' }, runs: { type: 'string', default: '3' }, 'per-host': { type: 'string', default: '50' }, profile: { type: 'string' } } });
  const sizes = values.sizes.split(',').map(Number);
  const runs = Number(values.runs);
  const perHost = Number(values['per-host']);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 2000) || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(perHost) || perHost < 1) {
    throw new Error('usage: npm run bench -- scale [--sizes 3,50,200,500] [--runs N] [--per-host N] [--profile DIR] (sizes 1–2000)');
  }
  const rows: ScaleRun[] = [];
  for (const n of sizes) {
    // Each agent's state folder (its journal of backups, fsynced at every step) on tmpfs when the
    // machine has one: 500 agents' fsyncs on one disk would measure the disk, not the round.
    console.log(`${n} agents in ${Math.ceil(n / perHost)} processes, ${runs} runs, agent state on ${existsSync('/dev/shm') ? '/dev/shm (tmpfs: fsync is free)' : `${tmpdir()} (disk)`}`);
    rows.push(...(await benchScale(n, runs, perHost, (r) => console.log(`  ${r.ok ? 'ok' : 'FAILED'} prepare ${ms(r.prepareMs)}, commit ${ms(r.commitMs)}, coordinator prepare→shipping ${ms(r.roundsMs)}, spread ${ms(r.commitSpreadMs)}, cut spread ${ms(r.cutSpreadMs)}, RSS ${mb(r.peakRssBytes)}, CPU ${ms(r.cpuMs)}, wall ${ms(r.wallMs)}${r.phasesMs ? `, phasesMs ${JSON.stringify(r.phasesMs)}` : ''}${r.reason ? `: ${r.reason}` : ''}`), values.profile)));
  }
  console.log(`\nmedian / worst over ${runs} runs (${new Date().toISOString().slice(0, 10)}):\n${scaleTable(rows)}`);
}
