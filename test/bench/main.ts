/**
 * `npm run bench`: the benchmarks, side by side in one run on the sandbox's data. Prints a
 * report; asserts nothing. Bring the sandbox up and seed it first (`npm run sandbox -- seed --size 1GB`).
 * `npm run bench -- small` (fixed costs on a 5 MB seed, spreads over 10 runs) and `restore-node`
 * (one node's restore against the vendor's commands for that node) run only when named, and so does
 * `encryption [--runs N]` (backups and restores of encrypted sets against clear ones, hot writer running).
 * `npm run bench -- scale` (many agents), `agent-rss` (one agent's memory), `agent-floor` (an idle agent against Node's own floor), `retention` (a year
 * of sets at a local folder), `rsync` (archive streams to a private sshd), `files` (a store of
 * a million attachments) and `age` (the age format's encrypt and decrypt rates, key rotation)
 * need no sandbox and run only when named; so does `signing` (the cost of signing and checking a manifest).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readSandboxEnv } from '../sandbox';
import { benchArchive } from './archive';
import { benchBackup, printSigningShare } from './backup';
import { benchEncryption, printEncryption } from './encryption';
import { benchIncremental } from './incremental';
import { benchRestore } from './restore';
import { restoreNodeMain } from './restore-node';
import { agentRssMain } from './agent-rss';
import { agentFloorMain } from './agent-floor';
import { ageBenchMain } from './age';
import { filesBenchMain } from './files';
import { benchRetention } from './retention';
import { benchRsync } from './rsync';
import { scaleMain } from './scale';
import { benchSigning, printSigning } from './signing';
import { benchSmall, printSmall } from './small';
import { median, secondsCell, slowest } from './stats';

async function main(): Promise<void> {
  const only = process.argv[2];
  // Many agents on this machine, or a year of sets at a local folder: no sandbox, and not part of the default run.
  if (only === 'scale') return scaleMain(process.argv.slice(3));
  if (only === 'agent-rss') return agentRssMain(process.argv.slice(3));
  if (only === 'agent-floor') return agentFloorMain(process.argv.slice(3));
  if (only === 'files') return filesBenchMain(process.argv.slice(3));
  if (only === 'retention') return printRetention();
  if (only === 'restore-node') return restoreNodeMain(process.argv.slice(3));
  if (only === 'rsync') return printRsync();
  if (only === 'age') return ageBenchMain();
  if (only === 'signing') return printSigning(benchSigning());
  const env = readSandboxEnv();
  const rounds = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
  if (only === 'encryption') {
    const at = process.argv.indexOf('--runs');
    if (at > 0 && !/^[1-9][0-9]*$/.test(process.argv[at + 1] ?? '')) throw new Error(`--runs ${process.argv[at + 1] ?? ''}: give a number of rounds, 1 or more`);
    console.log(`encrypted against clear sets on the sandbox's three stores, hot writer running: tandem backup --full, then tandem restore into scratch targets, median / worst of ${rounds} rounds in a rotated order`);
    printEncryption(await benchEncryption(rounds, (m) => console.log(`  (done) ${m}`)));
    return;
  }
  if (!only || only === 'backup') {
    console.log(`cluster snapshot: spread between the nodes' snapshot instants and wall time, median / worst of ${rounds} rounds in a rotated order`);
    const b = await benchBackup(rounds, (m, i) => console.log(`  (done) round ${i + 1} ${m}`));
    for (const r of b.rows)
      console.log(`  ${r.method.padEnd(44)} spread ${`${median(r.spreadMs)} / ${slowest(r.spreadMs)} ms`.padStart(16)}   wall ${secondsCell(r.wallSeconds).padStart(16)}   runs ${r.wallSeconds.map((x) => x.toFixed(1)).join(' ')}`);
    printSigningShare(b.signing);
  }
  if (!only || only === 'restore') {
    console.log('restore of one backup set into a scratch keyspace');
    for (const r of await benchRestore()) console.log(`  ${r.method.padEnd(56)} wall ${r.wallSeconds.toFixed(1).padStart(7)} s`);
  }
  if (only === 'small') {
    const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 10;
    console.log(`a small installation on the sandbox as seeded, its own fleet: ${runs} backups in a row without and with the hot writer, drills, the seed's steps`);
    printSmall(await benchSmall(runs, (m) => console.log(`  (done) ${m}`)));
    return;
  }
  if (!only || only === 'incremental') {
    console.log('a chain of sets on the sandbox\'s own fleet, hot writer running: wall time and bytes written');
    const rows = await benchIncremental((m) => console.log(`  (done) ${m}`));
    const full = rows[0];
    const target: Record<string, string> = { '(b)': '≤ 10 % time, ≤ 2 % bytes', '(c)': '≤ 20 % time' };
    for (const r of rows) {
      const ratio = r.step.startsWith('drill') ? '' : `${((100 * r.wallSeconds) / full.wallSeconds).toFixed(0).padStart(4)} % time ${r.bytes ? `${((100 * r.bytes) / full.bytes).toFixed(1).padStart(6)} % bytes` : ''}`;
      console.log(`  ${r.step.padEnd(40)} ${r.wallSeconds.toFixed(1).padStart(7)} s ${String(r.bytes).padStart(12)} bytes  ${ratio}  ${target[r.step.slice(0, 3)] ?? ''}`);
    }
    const drills = rows.filter((r) => r.step.startsWith('drill'));
    if (drills.length === 2) console.log(`  drill of the chain's last set / drill of the full set: ${(drills[1].wallSeconds / drills[0].wallSeconds).toFixed(2)}× (target ≤ 1.2×)`);
  }
  if (!only || only === 'archive') {
    // The largest table of node1, archived from its live folder (the same bytes a snapshot holds).
    const ks = join(env.cassandra.nodes[0].dataDir, 'thehive');
    // The live edgestore folder: the one holding SSTables (a recreated keyspace leaves old, empty ones).
    const candidates = (await readdir(ks)).filter((d) => d.startsWith('edgestore-'));
    const withData = await Promise.all(candidates.map(async (d) => ((await readdir(join(ks, d))).some((f) => f.endsWith('-Data.db')) ? d : null)));
    const edgestore = withData.find((d) => d !== null);
    if (!edgestore) throw new Error(`no edgestore SSTables under ${ks}: seed the sandbox first`);
    console.log(`archive throughput on ${join(ks, edgestore)}, median / worst of ${rounds} rounds in a rotated order`);
    const runs = await benchArchive(join(ks, edgestore), rounds);
    const floor = median(runs[0].results.map((r) => r.seconds));
    for (const { tool, results } of runs) {
      const secs = results.map((r) => r.seconds);
      console.log(`  ${tool.padEnd(40)} ${secondsCell(secs, 2).padStart(18)}  ${`${median(results.map((r) => r.mbPerSec)).toFixed(1)} MB/s`.padStart(11)}  ${(median(secs) / floor).toFixed(2)}× tar cjf  ${results[0].bytesOut} bytes`);
    }
  }
}

/** Archive streams to a local folder and to the rsync destination, staged and streamed. */
async function printRsync(): Promise<void> {
  console.log('3 concurrent streams of 200 MB (compressible bytes) per run, 3 runs; private sshd on 127.0.0.1:27022');
  console.log(`  ${'to'.padEnd(52)} ${'median'.padStart(10)} ${'worst'.padStart(10)}  runs (MB/s)`);
  for (const r of await benchRsync()) {
    console.log(`  ${r.what.padEnd(52)} ${r.median.toFixed(1).padStart(5)} MB/s ${r.worst.toFixed(1).padStart(5)} MB/s  ${r.runs.map((x) => x.toFixed(1)).join(' ')}`);
  }
}

/** `tandem list` and `tandem prune` over a year of daily sets, beside their targets. */
async function printRetention(): Promise<void> {
  console.log('retention at a local destination (rehearsal fleet, 365 daily sets cloned from one real set)');
  console.log(`  ${'what'.padEnd(72)} ${'target'.padEnd(8)} ${'median'.padStart(8)} ${'worst'.padStart(8)}  runs`);
  for (const r of await benchRetention()) {
    console.log(`  ${r.what.padEnd(72)} ${r.target.padEnd(8)} ${r.medianSeconds.toFixed(2).padStart(7)}s ${r.worstSeconds.toFixed(2).padStart(7)}s  ${r.runs}  (${r.note})`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
