/**
 * Scratch folders of tests, benches and fault cases: private (mkdtemp, mode 0700), named
 * `tandem-<what>-XXXXXX` under the OS temp dir (or another parent), and removed when the process
 * exits, whether it ends normally, through process.exit (uvu, the bench and fault runners) or on a
 * SIGINT/SIGTERM/SIGHUP nothing else handles. Every file of a uvu run is one process: a folder
 * lives until the whole suite ends unless its test removes it sooner (removeScratch).
 *
 * TANDEM_KEEP_SCRATCH=1 keeps them for looking at a failed test; their paths go to stderr at exit.
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Folders made here and not removed yet, in the order they were made. */
const registered = new Set<string>();
let hooked = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** True when TANDEM_KEEP_SCRATCH=1: scratch folders outlive the process. */
export const keepScratch = (): boolean => process.env.TANDEM_KEEP_SCRATCH === '1';

/** The folder's name prefix: every one starts with `tandem-`, which test/run.sh watches in /tmp. */
const prefixOf = (what: string) => `tandem-${what}-`;

/** Makes a private scratch folder `<parent>/tandem-<what>-XXXXXX` (parent: the OS temp dir) removed at exit: scratchDir('fleet') is /tmp/tandem-fleet-k3Jx9q. */
export async function scratchDir(what: string, parent: string = tmpdir()): Promise<string> {
  return register(await mkdtemp(join(parent, prefixOf(what))));
}

/** scratchDir for code that cannot wait (module top level of a test file). */
export function scratchDirSync(what: string, parent: string = tmpdir()): string {
  return register(mkdtempSync(join(parent, prefixOf(what))));
}

/** Removes a scratch folder now (a big one its test no longer needs) rather than at exit; kept with TANDEM_KEEP_SCRATCH=1. Never throws. */
export function removeScratch(dir: string): void {
  if (!registered.has(dir) || keepScratch()) return;
  registered.delete(dir);
  const problem = removeTree(dir);
  if (problem) process.stderr.write(`scratch: ${problem}\n`);
}

/** Leaves a scratch folder in place at exit (a bench's --keep); the caller says where it is. */
export function keepScratchDir(dir: string): void {
  registered.delete(dir);
}

function register(dir: string): string {
  registered.add(dir);
  if (!hooked) {
    hooked = true;
    process.on('exit', removeAll);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  return dir;
}

/** At exit: removes every folder still registered, or names them when they are kept. */
function removeAll(): void {
  const dirs = [...registered];
  registered.clear();
  if (!dirs.length) return;
  if (keepScratch()) {
    process.stderr.write(`scratch: TANDEM_KEEP_SCRATCH=1, kept ${dirs.length} folder(s); remove them when done:\n${dirs.map((d) => `  ${d}\n`).join('')}`);
    return;
  }
  for (const dir of dirs) {
    const problem = removeTree(dir);
    if (problem) process.stderr.write(`scratch: ${problem}\n`);
  }
}

/**
 * A signal ends the process without 'exit': remove the folders, then die of the same signal. When
 * the program handles that signal itself (the CLI's SIGINT abort run in-process), it decides how
 * to end, and 'exit' removes them then.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  removeAll();
  for (const s of SIGNALS) process.off(s, onSignal);
  process.kill(process.pid, signal);
}

/** Removes `dir` and everything in it; a sentence saying what is left and why, or null. */
export function removeTree(dir: string): string | null {
  // rm -r crosses into a file system mounted inside (a test's tmpfs that failed to unmount): it
  // would empty that one too, then fail. Leave the folder and say so.
  const mounted = mountsUnder(dir);
  if (mounted.length) return `left ${dir}: ${mounted.join(', ')} is mounted inside it; unmount it, then remove the folder`;
  const rm = () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  try {
    rm();
    return null;
  } catch {
    // A folder a test made read-only stops rm at EACCES when not root: give the owner rights back, then try again.
    try {
      openUp(dir);
      rm();
      return null;
    } catch (err) {
      return `cannot remove ${dir}: ${(err as Error).message}; files of another user inside it (a service the tests ran)? remove it as root`;
    }
  }
}

/** chmod u+rwx on every folder below `path` this user may change (others are skipped). */
function openUp(path: string): void {
  try {
    if (!lstatSync(path).isDirectory()) return;
    chmodSync(path, 0o700);
    for (const name of readdirSync(path)) openUp(join(path, name));
  } catch {
    /* not ours to change: rm's second try names it */
  }
}

/** Mount points at or below `dir` (Linux's /proc/self/mountinfo; none where it does not exist). */
function mountsUnder(dir: string): string[] {
  let text: string;
  let real: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
    real = realpathSync(dir);
  } catch {
    return [];
  }
  // Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
  const points = text.split('\n').map((line) => line.split(' ')[4]).filter((p): p is string => Boolean(p));
  return points.map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))).filter((p) => p === real || p.startsWith(`${real}/`));
}
