/**
 * A private OpenSSH server for the rsync destination's tests and bench, apart from the sandbox's:
 * its own folder, port and backup-host folder, so it can run while the sandbox is down (or owned
 * by someone else on the machine). It writes an env.json holding only the `sshd` section of the
 * sandbox's, which the rsync tests read through TANDEM_SANDBOX_ENV:
 *
 *   npm run build && node dist/test/tools/private-sshd.js up [--dir D] [--port P]
 *   TANDEM_SANDBOX_ENV=D/env.json TANDEM_TEST_NO_SANDBOX=1 npx uvu dist/test/integration 'destination-rsync\.test\.js$'
 *   node dist/test/tools/private-sshd.js down [--dir D]
 *
 * Defaults: folder <repo>/.private-sshd, port 27022.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { userInfo } from 'node:os';
import { runCommand } from '../../shared/exec';
import { repoRoot, type SandboxEnv } from '../sandbox/paths';
import { portOpen, waitUntil } from '../sandbox/procs';
import { sshdFiles, writeSshdSetup } from '../sandbox/sshd';

/** Where a private sshd lives and listens. */
export interface PrivateSshd {
  dir: string;
  port: number;
}

/** The `sshd` section of env.json for a private sshd: what RsyncDestination's config needs. */
export function privateSshdEnv(p: PrivateSshd): SandboxEnv['sshd'] {
  const f = sshdFiles(p.dir);
  return {
    host: '127.0.0.1',
    port: p.port,
    user: userInfo().username,
    keyPath: f.clientKey,
    knownHosts: f.knownHosts,
    sshArgs: ['-p', String(p.port), '-i', f.clientKey, '-o', `UserKnownHostsFile=${f.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'],
    backupHostDir: path.join(p.dir, 'backup-host'),
  };
}

/** Starts the server (sshd forks and writes its pid file) unless one answers on the port already; writes `<dir>/env.json`. */
export async function startPrivateSshd(p: PrivateSshd): Promise<string> {
  const f = sshdFiles(p.dir);
  const env = privateSshdEnv(p);
  mkdirSync(env.backupHostDir, { recursive: true });
  if (!(await portOpen('127.0.0.1', p.port))) {
    await writeSshdSetup(f, p.port);
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    await runCommand(['/usr/sbin/sshd', '-f', f.config, '-E', f.log]);
    await waitUntil('private sshd', () => portOpen('127.0.0.1', p.port), { timeoutMs: 15_000, logFile: f.log });
  }
  const envFile = path.join(p.dir, 'env.json');
  writeFileSync(envFile, JSON.stringify({ sshd: env }, null, 2) + '\n');
  return envFile;
}

/** Stops the server whose pid its own pid file records; the folder stays unless `purge`. */
export function stopPrivateSshd(p: PrivateSshd, purge = false): boolean {
  const pidFile = path.join(p.dir, 'sshd.pid');
  let stopped = false;
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGTERM');
        stopped = true;
      } catch {
        /* already gone */
      }
    }
    rmSync(pidFile, { force: true });
  }
  if (purge) rmSync(p.dir, { recursive: true, force: true });
  return stopped;
}

/** Reads `--dir D --port P` after the verb. */
function parseArgs(argv: string[]): PrivateSshd {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const port = Number(get('--port') ?? 27022);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port ${get('--port')}: give a TCP port`);
  return { dir: path.resolve(get('--dir') ?? path.join(repoRoot(), '.private-sshd')), port };
}

async function main(): Promise<void> {
  const [verb, ...rest] = process.argv.slice(2);
  const p = parseArgs(rest);
  if (verb === 'up') console.log(`sshd on 127.0.0.1:${p.port}; TANDEM_SANDBOX_ENV=${await startPrivateSshd(p)}`);
  else if (verb === 'down') console.log(stopPrivateSshd(p, rest.includes('--purge')) ? 'stopped' : 'not running');
  else throw new Error('usage: private-sshd up|down [--dir D] [--port P] [--purge]');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
