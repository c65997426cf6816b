/**
 * A test bed for hostile destination cases run through the real CLI: one real agent (files role
 * on a folder store, plus the rehearsal role to make a backup last), a local destination holding
 * sets made by `tandem backup`, a restore targets folder, and a sentinel folder outside both that
 * planted links point into. Measures the suite's invariants: sets lost, changes outside the
 * destination and the targets, planted bytes restored, and the coordinator's peak memory.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAIN, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';

/** One run of the CLI, with its peak resident memory when measured. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the coordinator process, bytes; null when not measured. */
  peakRss: number | null;
}

/** A bed: a started fleet of one files node and what the cases look at. */
export interface Bed {
  fleet: TestFleet;
  /** The live attachment store the files role backs up (watched: a restore never writes there). */
  store: string;
  /** Folder outside the destination and the targets; planted links point here (watched). */
  sentinel: string;
  /** The only folder a restore may write into (roles.files.restoreTargets). */
  targets: string;
  /** Sets made by the real CLI, oldest first; the second and later build on the first. */
  sets: string[];
  /** Bytes every planted file and every sentinel file holds: found in a restore output means planted bytes restored. */
  planted: Buffer;
}

/** What a bed is built with. */
export interface BedOptions {
  /** Sets made before the case runs; default 2 (a full one and one built on it). */
  sets?: number;
  /** Time the rehearsal role spends shipping, ms; default 100. */
  shipMs?: number;
  /** Attachments in the live store; default 20. */
  storeFiles?: number;
}

/** Attachment store files: some in nested folders, as TheHive lays them out. */
function writeStore(store: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const dir = join(store, `d${i % 10}`, `e${i % 3}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `att-${i}`), `attachment ${i} ${randomBytes(16).toString('hex')}\n`);
  }
}

/** Runs `fn` on a fresh bed; stops the agent and removes everything after. */
export async function withBed<T>(opts: BedOptions, fn: (bed: Bed) => Promise<T>): Promise<T> {
  const planted = Buffer.from(`PLANTED-${randomBytes(12).toString('hex')}`);
  // The store, targets and sentinel beside the fleet's folder, not in it: the fleet's folder holds the destination.
  const dir = await scratchDir('bed');
  const store = join(dir, 'store');
  const sentinel = join(dir, 'sentinel');
  const targets = join(dir, 'targets');
  mkdirSync(targets);
  writeStore(store, opts.storeFiles ?? 20);
  mkdirSync(join(sentinel, 'sub'), { recursive: true });
  for (const name of ['keep-me', 'sub/keep-me-too', 'manifest.json', 'part.json']) writeFileSync(join(sentinel, name), Buffer.concat([planted, Buffer.from(` ${name}\n`)]));
  let fleet: TestFleet | undefined;
  try {
    fleet = await makeFleet([{ node: 'f1', roles: { files: { store: 'localfs', location: store, concurrency: 2, restoreTargets: [targets] }, rehearsal: { shipMs: opts.shipMs ?? 100 } } }]);
    await startFleet(fleet);
    const sets: string[] = [];
    for (let i = 0; i < (opts.sets ?? 2); i++) {
      const id = `set-${i + 1}-${randomBytes(3).toString('hex')}`;
      const r = await runCli(['backup', '--config', fleet.fleetFile, '--id', id]);
      if (r.code !== 0) throw new Error(`the bed's backup ${id} exited ${r.code}: ${r.stderr.trim()}`);
      sets.push(id);
    }
    return await fn({ fleet, store, sentinel, targets, sets, planted });
  } finally {
    if (fleet) await removeFleet(fleet);
    removeScratch(dir);
  }
}

/** Runs the CLI, measuring its peak RSS: under /usr/bin/time -v when present, else from /proc/PID/status VmHWM read while it runs. */
export function runMeasured(args: string[]): Promise<CliRun> {
  const timed = existsSync('/usr/bin/time');
  const argv = timed ? ['/usr/bin/time', '-v', process.execPath, CLI_MAIN, ...args] : [process.execPath, CLI_MAIN, ...args];
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let polled = 0;
    const poll = timed ? null : setInterval(() => (polled = Math.max(polled, vmHwm(child.pid!))), 20);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      if (!timed) return resolve({ code: code ?? -1, stdout, stderr, peakRss: polled || null });
      // time -v appends its report to stderr; the CLI's own lines come first.
      const at = stderr.lastIndexOf('\tCommand being timed:');
      const report = at >= 0 ? stderr.slice(at) : '';
      // A non-zero exit adds one line of its own before the report.
      const own = at >= 0 ? stderr.slice(0, at).replace(/Command exited with non-zero status \d+\n$|Command terminated by signal \d+\n$/, '') : stderr;
      const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
      const status = /Exit status: (\d+)/.exec(report)?.[1];
      resolve({ code: status !== undefined ? Number(status) : code ?? -1, stdout, stderr: own, peakRss: kb ? Number(kb) * 1024 : null });
    });
  });
}

/** VmHWM of a live process, bytes; 0 once it is gone. */
function vmHwm(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** The ids `tandem list --json` shows complete. */
export async function completeSets(bed: Bed): Promise<string[]> {
  const r = await runCli(['list', '--config', bed.fleet.fleetFile, '--json']);
  if (r.code !== 0) throw new Error(`tandem list exited ${r.code}: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout).backupSets as { id: string; status: string }[]).filter((s) => s.status === 'complete').map((s) => s.id).sort();
}

/** Every entry under `roots`, never following a link: type, size, mode, owner, mtime and content digest. */
export function snapshot(roots: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (path: string) => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    const digest = st.isFile() ? createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16) : '';
    out.set(path, `${kind} ${st.size} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs} ${digest}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  roots.forEach(walk);
  return out;
}

/** Entries added, removed or changed between two snapshots, in words. */
export function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of before) if (!after.has(p)) out.push(`${p} removed`);
  else if (after.get(p) !== v) out.push(`${p} changed (${v} → ${after.get(p)})`);
  for (const p of after.keys()) if (!before.has(p)) out.push(`${p} written`);
  return out;
}

/** Bytes of planted content in the regular files under `roots` (links are not followed). */
export function plantedBytesIn(roots: string[], planted: Buffer): number {
  let n = 0;
  const walk = (path: string) => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) return readdirSync(path).forEach((name) => walk(join(path, name)));
    if (!st.isFile()) return;
    const body = readFileSync(path);
    for (let at = body.indexOf(planted); at >= 0; at = body.indexOf(planted, at + 1)) n += planted.length;
  };
  roots.forEach(walk);
  return n;
}
