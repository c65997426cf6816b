/**
 * The one command runner for every external program (nodetool, sstableloader, java, tar, bzip2,
 * rsync, ssh, openssl). Programs run from an argv array, never through a shell; abort kills the
 * child; a non-zero exit becomes a CommandError carrying the tail of stderr. runCommand waits for
 * a program to finish; spawnProcess starts one whose stdin and stdout the caller streams.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { CommandError } from './errors';

/** Options of every program started. */
export interface SpawnOptions {
  /** Working directory; default: the current one. */
  cwd?: string;
  /** Extra environment variables, merged over process.env. */
  env?: Record<string, string>;
  /** Aborting kills the child (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /** Kill the child after this many milliseconds; default: no limit. */
  timeoutMs?: number;
}

/** Options of one command run. */
export interface RunOptions extends SpawnOptions {
  /** Written to the child's stdin, which is then closed; default: stdin is /dev/null. */
  input?: string | Buffer;
  /** Exit codes that count as success; default [0]. */
  okCodes?: number[];
  /** Keep at most this many bytes of stdout; default 16 MiB. */
  maxStdout?: number;
}

/** What a finished command printed. */
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The signature of the runner, so steps can take it as a seam in unit tests. */
export type CommandRunner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

const STDERR_TAIL = 8 * 1024;

/** Runs argv[0] with argv[1..] as arguments and resolves with its output, or rejects with CommandError. */
export const runCommand: CommandRunner = (argv, options = {}) => {
  if (argv.length === 0 || !argv[0]) throw new TypeError('runCommand needs a program');
  const maxStdout = options.maxStdout ?? 16 * 1024 * 1024;
  let started: Started;
  try {
    started = start(argv, options, options.input !== undefined ? 'pipe' : 'ignore');
  } catch (err) {
    return Promise.reject(new CommandError(argv, null, null, '', `cannot start ${argv[0]}: ${(err as Error).message}`, { cause: err }));
  }
  const { child, exited, stderrTail } = started;
  const out: Buffer[] = [];
  let outBytes = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    if (outBytes < maxStdout) out.push(chunk);
    outBytes += chunk.length;
  });
  if (options.input !== undefined) {
    // A program that exits before reading all its input makes the write fail with EPIPE; its
    // exit status is the failure to report, not an unhandled 'error' that kills the process.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input);
  }
  return exited.then(({ code, signal }) => {
    const stdout = Buffer.concat(out).toString('utf8');
    if (code !== null && (options.okCodes ?? [0]).includes(code)) return { stdout, stderr: stderrTail(), exitCode: code };
    throw new CommandError(argv, code, signal, stderrTail());
  });
};

/** A running program whose stdin and stdout the caller streams (a compressor, the JMX trigger). */
export interface RunningProcess {
  stdin: Writable;
  stdout: Readable;
  /** Resolves when the program exits 0; rejects with CommandError (with the stderr tail) otherwise. */
  done: Promise<void>;
  /** The last 8 KiB the program wrote to stderr so far. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after 5 s; nothing once it has exited. */
  kill(): void;
}

/** The signature of spawnProcess, so steps can take it as a seam in unit tests. */
export type ProcessSpawner = (argv: readonly string[], options?: SpawnOptions) => RunningProcess;

/** Starts argv[0] with argv[1..] as arguments, stdin, stdout and stderr piped; throws if it cannot be spawned at all. */
export const spawnProcess: ProcessSpawner = (argv, options = {}) => {
  if (argv.length === 0 || !argv[0]) throw new TypeError('spawnProcess needs a program');
  const { child, exited, stderrTail } = start(argv, options, 'pipe');
  const done = exited.then(({ code, signal }) => {
    if (code !== 0) throw new CommandError(argv, code, signal, stderrTail());
  });
  done.catch(() => undefined); // observed by the caller; avoid an unhandled rejection meanwhile
  return { stdin: child.stdin!, stdout: child.stdout!, done, stderrTail, kill: () => terminate(child) };
};

/** A started child with what both runners share: the stderr tail, the timeout and abort wiring. */
interface Started {
  child: ChildProcess;
  /** Settles once the child has exited and its output is read; rejects when it could not run. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(): string;
}

function start(argv: readonly string[], options: SpawnOptions, stdin: 'pipe' | 'ignore'): Started {
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: [stdin, 'pipe', 'pipe'],
    shell: false,
  });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  const kill = () => terminate(child);
  const timer = options.timeoutMs ? setTimeout(kill, options.timeoutMs) : undefined;
  if (options.signal?.aborted) kill();
  else options.signal?.addEventListener('abort', kill, { once: true });
  const settle = () => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (e) => {
      settle();
      reject(new CommandError(argv, null, null, err, `cannot run ${argv[0]}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      settle();
      resolve({ code, signal });
    });
  });
  return { child, exited, stderrTail: () => err };
}

/** How roles start programs: passed in when they are built, so a unit test can replace both. */
export interface Exec {
  /** Runs a program to its end; default runCommand. */
  run: CommandRunner;
  /** Starts a program to stream through; default spawnProcess. */
  spawn: ProcessSpawner;
}

/** The real programs of this host. */
export const systemExec: Exec = { run: runCommand, spawn: spawnProcess };

/** SIGTERM, then SIGKILL if the child is still alive after 5 s. */
function terminate(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, 5000);
  t.unref();
}
