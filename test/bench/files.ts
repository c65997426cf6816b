/**
 * `npm run bench -- files [--count N] [--dir DIR] [--port P] [--keep]`: a TheHive file store of N
 * small attachments (default 1,000,000, 1–4 KB each, made by test/tools/attachments.ts) backed up
 * by a files-only fleet (one real tandem-agent process with the files role on the folder, mutual
 * TLS, local destination) through the real CLI: a full set, a set built on it with nothing
 * changed, then verify, show and list. Prints per step the wall time, the coordinator's peak RSS
 * (/usr/bin/time, else /proc) and the agent's peak RSS during that step (VmHWM, reset before each
 * step through /proc/<pid>/clear_refs), beside the target (agent under 200 MB). Needs no sandbox;
 * asserts nothing; removes the store and the fleet afterwards unless --keep.
 */
import { statSync, writeFileSync } from 'node:fs';
import { readFile, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeFleet, startFleet, stopFleet } from '../helpers/fleet';
import { AGENT_NODE_FLAGS } from '../helpers/agent-process';
import { runCliMeasured } from '../helpers/many-agents';
import { writeAttachments } from '../tools/attachments';
import { keepScratchDir, removeScratch, scratchDir } from '../helpers/scratch';

/** One step of the bench. */
export interface FilesBenchRow {
  step: string;
  wallSeconds: number;
  coordinatorPeakRss: number;
  agentPeakRss: number;
  note: string;
}

/** The agent's peak RSS since the last reset, bytes; resets it for the next step. */
async function agentPeak(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  // "5" resets the peak to the current RSS (Linux 4.0+), so each step reports its own peak.
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Without it the peak is the process's so far: still an upper bound.
  }
  return kb * 1024;
}

/** Runs the steps over a store of `count` attachments under `dir`. */
export async function benchFiles(count: number, dir: string, port: number, keep: boolean, onRow: (r: FilesBenchRow) => void): Promise<FilesBenchRow[]> {
  const src = join(dir, 'store');
  const rows: FilesBenchRow[] = [];
  const t0 = Date.now();
  const made = writeAttachments(src, count, { sampleEvery: Number.MAX_SAFE_INTEGER });
  const genRow = { step: `generate ${count} attachments (${(made.bytes / 2 ** 20).toFixed(0)} MiB)`, wallSeconds: (Date.now() - t0) / 1000, coordinatorPeakRss: 0, agentPeakRss: 0, note: '' };
  rows.push(genRow);
  onRow(genRow);
  const fleet = await makeFleet([{ node: 'files1', port, roles: { files: { store: 'localfs', location: src, concurrency: 8 } } }]);
  try {
    await startFleet(fleet);
    const pid = fleet.agents[0].process!.pid!;
    await agentPeak(pid);
    const cli = async (step: string, args: string[], note: (stdout: string) => string) => {
      const r = await runCliMeasured([...args, '--config', fleet.fleetFile]);
      if (r.code !== 0) throw new Error(`${step} failed (exit ${r.code}): ${r.stdout}\n${r.stderr.map((l) => l.text).join('\n')}`);
      const row = { step, wallSeconds: r.wallMs / 1000, coordinatorPeakRss: r.peakRssBytes, agentPeakRss: await agentPeak(pid), note: note(r.stdout) };
      rows.push(row);
      onRow(row);
      return r.stdout;
    };
    const listing = (id: string) => statSync(join(fleet.destDir, id, 'files1', 'files', 'listing.ndjson')).size;
    const full = 'bench-files-full';
    const next = 'bench-files-unchanged';
    await cli('backup (full)', ['backup', '--id', full, '--json'], () => `listing ${(listing(full) / 2 ** 20).toFixed(0)} MiB`);
    await cli('backup (built on it, nothing changed)', ['backup', '--id', next, '--json'], (out) => `parent ${JSON.parse(out).parent}, ${JSON.parse(out).bytes} bytes`);
    await cli('verify (the second set)', ['verify', next, '--json'], (out) => {
      const v = JSON.parse(out) as { ok: boolean; files: number };
      return `ok ${v.ok}, ${v.files} files re-read`;
    });
    await cli('show', ['show', next], (out) => `${out.split('\n').length} lines`);
    await cli('list', ['list'], (out) => `${out.split('\n').length} lines`);
    return rows;
  } finally {
    await stopFleet(fleet);
    if (keep) keepScratchDir(fleet.dir);
    else {
      removeScratch(fleet.dir);
      await rm(src, { recursive: true, force: true });
    }
  }
}

/** `npm run bench -- files …`. */
export async function filesBenchMain(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { count: { type: 'string', default: '1000000' }, dir: { type: 'string' }, port: { type: 'string', default: '30020' }, keep: { type: 'boolean', default: false } } });
  const count = Number(values.count);
  const dir = values.dir ?? (await scratchDir('bench-files'));
  // Each attachment takes a 4 KiB block at the source and again at the destination, plus the listings.
  const fs = await statfs(dir);
  const need = count * 4096 * 2 + count * 600;
  if (fs.bavail * fs.bsize < need * 1.2) throw new Error(`${dir} has ${((fs.bavail * fs.bsize) / 2 ** 30).toFixed(1)} GiB free; ${count} attachments need about ${(need / 2 ** 30).toFixed(1)} GiB: choose --dir elsewhere or a smaller --count`);
  const mb = (x: number) => (x ? `${(x / 2 ** 20).toFixed(0)} MB` : '');
  console.log(`a files-only fleet, ${count} attachments under ${dir}; agent target: under 200 MB` + (AGENT_NODE_FLAGS.length ? `; agent run with node ${AGENT_NODE_FLAGS.join(' ')}` : ''));
  console.log(`| step | wall | coordinator peak RSS | agent peak RSS | |\n|---|---|---|---|---|`);
  await benchFiles(count, dir, Number(values.port), values.keep!, (r) => console.log(`| ${r.step} | ${r.wallSeconds.toFixed(1)} s | ${mb(r.coordinatorPeakRss)} | ${mb(r.agentPeakRss)} | ${r.note} |`));
  if (!values.dir) (values.keep ? keepScratchDir : removeScratch)(dir);
}
