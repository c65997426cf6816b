/**
 * `npm run faults`: injects every fault of the suite into real runs on the sandbox and tries every
 * hostile input, then prints one table (fault or input, phase, expected, observed, leftovers,
 * records lost) and the figures. Exit 0 only when every expectation held.
 *
 *   npm run faults [-- --only TEXT] [--section NAME] [--kind fault|hostile] [--quick] [--json]
 *
 * --section runs one section of cases.ts (SECTIONS' names: sandbox, restore, clock, callers,
 * destination, destination-cli, destination-sandbox, encryption); --only keeps the cases whose name
 * or phase holds TEXT.
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../../shared/errors';
import { readSandboxEnv, sandboxStatus, startWriter, stopWriter } from '../sandbox';
import type { FaultCase, Observation } from './case';
import { ALL_CASES, SECTIONS } from './cases';
import { closeFaultFleet } from './sandbox-fleet';

interface Row extends Observation {
  kind: string;
  name: string;
  phase: string;
  expected: string;
  ok: boolean;
  seconds: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, section: { type: 'string' }, kind: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
  if (values.section !== undefined && !(values.section in SECTIONS)) throw new Error(`--section ${values.section}: no such section; give one of ${Object.keys(SECTIONS).join(', ')}`);
  const pool = values.section === undefined ? ALL_CASES : SECTIONS[values.section as keyof typeof SECTIONS];
  const cases = pool.filter((c) => (!values.only || `${c.name} ${c.phase}`.includes(values.only)) && (!values.kind || c.kind === values.kind) && (!values.quick || c.quick));
  if (!cases.length) throw new Error('no case matches');
  const needsSandbox = cases.some((c) => c.needs === 'sandbox');
  if (needsSandbox) {
    const st = await sandboxStatus();
    if (!st.cassandra.ok || !st.elasticsearch.ok) throw new Error('the sandbox is not up: run `npm run sandbox -- up` first');
    readSandboxEnv();
    await startWriter();
  }
  const rows: Row[] = [];
  try {
    for (const c of cases) {
      process.stderr.write(`• ${c.kind} ${c.name} [${c.phase}]… `);
      const t0 = Date.now();
      const o = await runCase(c);
      const row = { kind: c.kind, name: c.name, phase: c.phase, expected: c.expected, ...o, ok: o.problems.length === 0, seconds: (Date.now() - t0) / 1000 };
      rows.push(row);
      process.stderr.write(`${row.ok ? 'ok' : 'FAILED'} (${row.seconds.toFixed(0)} s)${row.ok ? '' : `: ${o.problems.join('; ')}`}\n`);
    }
  } finally {
    if (needsSandbox) await stopWriter();
    await closeFaultFleet();
  }
  if (values.json) console.log(JSON.stringify(rows));
  else printTable(rows);
  return rows.every((r) => r.ok) ? 0 : 1;
}

async function runCase(c: FaultCase): Promise<Observation> {
  try {
    return await c.run();
  } catch (err) {
    return { observed: `the case itself failed: ${errorMessage(err)}`, leftovers: 'unknown', recordsLost: null, problems: [errorMessage(err)] };
  }
}

function printTable(rows: Row[]): void {
  const cols: [string, (r: Row) => string][] = [
    ['', (r) => (r.ok ? 'ok' : 'FAIL')],
    ['fault or input', (r) => r.name],
    ['phase', (r) => r.phase],
    ['expected', (r) => r.expected],
    ['observed', (r) => r.observed + (r.ok ? '' : ` — ${r.problems.join('; ')}`)],
    ['leftovers', (r) => r.leftovers],
    ['records lost', (r) => (r.recordsLost === null ? '–' : String(r.recordsLost))],
    ['sets lost', (r) => (r.measured ? String(r.measured.setsLost) : '–')],
    ['changed outside', (r) => (r.measured ? String(r.measured.outsideChanged) : '–')],
    ['planted bytes restored', (r) => (r.measured ? String(r.measured.plantedBytesRestored) : '–')],
    ['peak RSS', (r) => (r.measured?.peakRss ? `${(r.measured.peakRss / 2 ** 20).toFixed(0)} MB` : '–')],
  ];
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  console.log(`| ${cols.map(([h]) => h).join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map(([, f]) => cell(f(r))).join(' | ')} |`);
  const faults = rows.filter((r) => r.kind === 'fault');
  const hostile = rows.filter((r) => r.kind === 'hostile');
  const leaked = rows.filter((r) => r.leftovers !== 'none' && r.leftovers !== 'unknown').length;
  const lost = rows.reduce((n, r) => n + (r.recordsLost ?? 0), 0);
  const measured = rows.filter((r) => r.measured);
  const sum = (f: (i: NonNullable<Row['measured']>) => number) => measured.reduce((n, r) => n + f(r.measured!), 0);
  const peak = Math.max(0, ...measured.map((r) => r.measured!.peakRss ?? 0));
  console.log(`\nfaults injected ${faults.length}, survived ${faults.filter((r) => r.ok).length}; ` +
    `hostile inputs tried ${hostile.length}, refused ${hostile.filter((r) => r.ok).length}; ` +
    `cases with leftovers ${leaked}; records lost ${lost} (measured in ${rows.filter((r) => r.recordsLost !== null).length} restores)` +
    (measured.length ? `; in ${measured.length} destination cases: sets lost ${sum((i) => i.setsLost)}, entries changed outside ${sum((i) => i.outsideChanged)}, planted bytes restored ${sum((i) => i.plantedBytesRestored)}, peak coordinator RSS ${(peak / 2 ** 20).toFixed(0)} MB` : ''));
}

main().then(
  (code) => process.exitCode = code,
  (err) => {
    console.error(`faults: ${errorMessage(err)}`);
    process.exitCode = 2;
  },
);
