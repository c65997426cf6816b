/**
 * Long-running daemons of the sandbox: started detached with output to a log file, their pid
 * recorded in .sandbox/pids/<name>.pid, and stopped only through that recorded pid.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sandboxPaths } from './paths';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function pidFile(name: string): string {
  return path.join(sandboxPaths().pids, `${name}.pid`);
}

export function readPid(name: string): number | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0); /proc tells it apart (we may be its parent in tests).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The recorded pid of a daemon if that process is still alive. */
export function runningPid(name: string): number | undefined {
  const pid = readPid(name);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

export interface DaemonSpec {
  name: string;
  argv: string[];
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** Starts a detached daemon (its own process group, so our exit does not take it down) and records its pid. */
export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(sandboxPaths().pids, { recursive: true });
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.argv[0]!, spec.argv.slice(1), {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', fd, fd],
      detached: true,
      shell: false,
      uid: spec.uid,
      gid: spec.gid,
    });
    if (child.pid === undefined) throw new Error(`cannot start ${spec.name}: ${spec.argv[0]}`);
    child.unref();
    writeFileSync(pidFile(spec.name), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM the recorded pid, wait up to graceMs, then SIGKILL. Removes the pid file. */
export async function stopDaemon(name: string, graceMs = 20_000): Promise<boolean> {
  const pid = readPid(name);
  let stopped = false;
  if (pid !== undefined && isAlive(pid)) {
    // The daemon was started detached, so it leads its own process group: signalling -pid also
    // reaches children it spawned itself (Elasticsearch's launcher starts the server JVM as a child).
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(200);
    signalGroup(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
    stopped = true;
  }
  rmSync(pidFile(name), { force: true });
  return stopped;
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Polls check() until it returns true; fails early when the daemon's pid died (with the log tail,
 * which is where the reason is), or after timeoutMs.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; daemon?: string; logFile?: string; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (opts.daemon && runningPid(opts.daemon) === undefined) {
      throw new Error(`${what}: process ${opts.daemon} exited\n${logTail(opts.logFile)}`);
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${opts.timeoutMs} ms\n${logTail(opts.logFile)}`);
    await sleep(opts.intervalMs ?? 500);
  }
}

export function logTail(file: string | undefined, lines = 30): string {
  if (!file || !existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}
