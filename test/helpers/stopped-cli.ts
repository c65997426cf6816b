/**
 * A `tandem` run that stops itself at a named fault point (TANDEM_FAULT_POINT, see
 * coordinator/fault-point.ts), for the tests of a coordinator killed at that step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI_MAIN } from './fleet';

/** Starts `tandem ARGS` that stops itself at `point`; resolves once it has, with the stopped process. */
export function cliStoppedAt(args: string[], point: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, TANDEM_FAULT_POINT: point }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes(`fault point ${point} reached`)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`tandem ${args[0]} exited (${code}) before ${point}: ${err}`)));
  });
}

/** Kills `child` with SIGKILL and waits until it is gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once('close', r));
  child.kill('SIGKILL');
  await gone;
}
