/**
 * The one command runner for every external program (nodetool, sstableloader, tar, bzip2, rsync,
 * ssh, openssl). Programs run from an argv array, never through a shell; abort kills the child;
 * a non-zero exit becomes a CommandError carrying the tail of stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CommandError } from './errors';

/** Options of one command run. */
export interface RunOptions {
  /** Working directory; default: the current one. */
  cwd?: string;
  /** Extra environment variables, merged over process.env. */
  env?: Record<string, string>;
  /** Aborting kills the child (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /** Kill the child after this many milliseconds; default: no limit. */
  timeoutMs?: number;
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
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(argv[0], argv.slice(1), {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        shell: false,
      });
    } catch (err) {
      reject(new CommandError(argv, null, null, '', `cannot start ${argv[0]}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (outBytes < maxStdout) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    const kill = () => terminate(child);
    const timer = options.timeoutMs ? setTimeout(kill, options.timeoutMs) : undefined;
    options.signal?.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      reject(new CommandError(argv, null, null, err, `cannot run ${argv[0]}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      const stdout = Buffer.concat(out).toString('utf8');
      if (code !== null && (options.okCodes ?? [0]).includes(code)) resolve({ stdout, stderr: err, exitCode: code });
      else reject(new CommandError(argv, code, sig, err));
    });
  });
};

/** SIGTERM, then SIGKILL if the child is still alive after 5 s. */
export function terminate(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, 5000);
  t.unref();
}
