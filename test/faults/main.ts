/**
 * `npm run faults`: injects every fault of the suite into real runs on the sandbox and tries every
 * hostile input, then prints one table (fault or input, phase, expected, observed, leftovers,
 * records lost) and the figures. Exit 0 only when every expectation held.
 *
 *   npm run faults [-- --only TEXT] [--kind fault|hostile] [--quick] [--json]
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../../shared/errors';
import { readSandboxEnv, sandboxStatus, startWriter, stopWriter } from '../sandbox';
import type { FaultCase, Observation } from './case';
import { ALL_CASES } from './cases';
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
  const { values } = parseArgs({ options: { only: { type: 'string' }, kind: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
  const cases = ALL_CASES.filter((c) => (!values.only || `${c.name} ${c.phase}`.includes(values.only)) && (!values.kind || c.kind === values.kind) && (!values.quick || c.quick));
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
  ];
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  console.log(`| ${cols.map(([h]) => h).join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map(([, f]) => cell(f(r))).join(' | ')} |`);
  const faults = rows.filter((r) => r.kind === 'fault');
  const hostile = rows.filter((r) => r.kind === 'hostile');
  const leaked = rows.filter((r) => r.leftovers !== 'none' && r.leftovers !== 'unknown').length;
  const lost = rows.reduce((n, r) => n + (r.recordsLost ?? 0), 0);
  console.log(`\nfaults injected ${faults.length}, survived ${faults.filter((r) => r.ok).length}; ` +
    `hostile inputs tried ${hostile.length}, refused ${hostile.filter((r) => r.ok).length}; ` +
    `cases with leftovers ${leaked}; records lost ${lost} (measured in ${rows.filter((r) => r.recordsLost !== null).length} restores)`);
}

main().then(
  (code) => process.exitCode = code,
  (err) => {
    console.error(`faults: ${errorMessage(err)}`);
    process.exitCode = 2;
  },
);
