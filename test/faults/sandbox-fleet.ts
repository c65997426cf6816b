/**
 * What the sandbox fault cases share: one fleet of real agents on the sandbox (node1 with the
 * cassandra, elasticsearch and files roles, node2 and node3 with cassandra: the shape users
 * deploy), short deadlines so that a hung agent is given up on in seconds, a backup that stops
 * itself at a named point (TANDEM_FAULT_POINT), and the checks every case ends with: a complete
 * set that verifies, or nothing at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { openDestination, parseDestinationConfig, type DestinationConfig } from '../../shared/destination';
import { manifestPath } from '../../shared/destination/layout';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSnapshotTags } from '../../agent/roles/cassandra/nodetool';
import { runCommand } from '../../shared/exec';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { snapshotTagFor } from '../../shared/names';
import { CLI_MAIN, encryptFleet, handles, makeFleet, removeFleet, runCli, startAgent, startFleet, stopAgent, type TestAgent, type TestFleet } from '../helpers/fleet';
import { debrisOf } from '../helpers/debris';
import { cassandraRoleSettings, readSandboxEnv, type SandboxEnv, type WriterRecord } from '../sandbox';

export const REPOSITORY = 'tandem-faults';

export interface FaultFleet {
  env: SandboxEnv;
  fleet: TestFleet;
  /** Where this view of the fleet writes its sets. */
  destination: DestinationConfig;
  agent(node: string): TestAgent;
}

let shared: Promise<FaultFleet> | null = null;

/** Whether the sandbox cases run on encrypted sets (the default). */
export const faultsEncrypted = () => process.env.TANDEM_FAULTS_ENCRYPTION !== 'none';

/** The fleet every sandbox case uses, started on first use. */
export function faultFleet(): Promise<FaultFleet> {
  shared ??= (async () => {
    const env = readSandboxEnv();
    const fleet = await makeFleet(
      env.cassandra.nodes.map((n, i) => ({
        node: n.name,
        roles: {
          cassandra: cassandraRoleSettings(env, n),
          ...(i === 0
            ? {
                elasticsearch: { url: env.elasticsearch.url, repository: REPOSITORY, repositoryLocation: join(env.elasticsearch.pathRepo, REPOSITORY), allowYellow: true },
                // Fault cases restore into scratch folders under the OS temp folder.
                files: { store: 'localfs', location: env.files.dir, restoreTargets: [env.files.dir, tmpdir()] },
              }
            : {}),
        },
      })),
      // Short enough that a hung agent costs seconds, long enough for Prepare's checks on 2 cores.
      // The agents' own MinIO keys: the cases that switch to the MinIO destination send none.
      { leaseMs: 90_000, prepareTimeoutMs: 60_000, agentS3Keys: { accessKeyId: env.minio.accessKey, secretAccessKey: env.minio.secretKey } },
    );
    // The cases run on encrypted sets, as a fleet holding incident data does; TANDEM_FAULTS_ENCRYPTION=none runs them in clear.
    if (faultsEncrypted()) await encryptFleet(fleet);
    await startFleet(fleet);
    return { env, fleet, destination: parseDestinationConfig({ type: 'local', path: fleet.destDir }), agent: (node) => fleet.agents.find((a) => a.node === node)! };
  })();
  return shared;
}

/** The same agents, driven through another fleet file whose destination is `destination` (and a state folder of its own). */
export function withDestination(f: FaultFleet, name: string, destination: DestinationConfig): FaultFleet {
  const config = JSON.parse(readFileSync(f.fleet.fleetFile, 'utf8')) as Record<string, unknown>;
  const fleetFile = join(f.fleet.dir, `${name}.yaml`);
  const coordinatorDir = join(f.fleet.dir, name);
  writeFileSync(fleetFile, JSON.stringify({ ...config, destination, stateDir: coordinatorDir }));
  const destDir = destination.type === 'local' ? destination.path : f.fleet.destDir;
  return { ...f, destination, fleet: { ...f.fleet, fleetFile, destDir, coordinatorDir } };
}

/** The sandbox's MinIO bucket for backups, under prefix `faults`. */
export function minioDestination(env: SandboxEnv): DestinationConfig {
  return parseDestinationConfig({
    type: 's3',
    endpoint: env.minio.endpoint,
    bucket: env.minio.backupBucket,
    prefix: 'faults',
    region: env.minio.region,
    accessKeyId: env.minio.accessKey,
    secretAccessKey: env.minio.secretKey,
  });
}

export async function closeFaultFleet(): Promise<void> {
  if (!shared) return;
  const f = await shared;
  shared = null;
  await removeFleet(f.fleet);
}

/** A `tandem backup` run, stopped at a fault point or running. */
export interface BackupRun {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (null when killed). */
  exited: Promise<number | null>;
}

/** Starts `tandem backup --id id`; with `point`, resolves once the coordinator stopped itself there. */
export function startBackup(f: FaultFleet, id: string, point?: string, extraEnv: Record<string, string> = {}): Promise<BackupRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, 'backup', '--config', f.fleet.fleetFile, '--json', '--id', id], {
      env: { ...process.env, ...extraEnv, ...(point ? { TANDEM_FAULT_POINT: point } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: BackupRun = { child, stdout: '', stderr: '', exited: new Promise((r) => child.once('close', (code) => r(code))) };
    child.stdout!.on('data', (d) => (run.stdout += d));
    let seen = false;
    child.stderr!.on('data', (d) => {
      run.stderr += d;
      if (!point || seen || !run.stderr.includes(`fault point ${point} reached`)) return;
      seen = true;
      // It says so, then stops itself: resolved once it has, or a SIGCONT could come first and be lost.
      void untilStopped(child.pid!).then(() => resolve(run), reject);
    });
    if (!point) resolve(run);
    else void run.exited.then((code) => reject(new Error(`tandem backup exited (${code}) before reaching ${point}: ${run.stderr.slice(-500)}`)));
  });
}

/** Waits until the process is in the stopped state (T in /proc/PID/stat). */
async function untilStopped(pid: number): Promise<void> {
  for (const end = Date.now() + 10_000; Date.now() < end; await sleep(20)) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
  }
  throw new Error(`process ${pid} said it reached its fault point but did not stop`);
}

/** Waits until the run's stderr contains `text`. */
export async function untilSays(run: BackupRun, text: string | RegExp, ms = 120_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    if (typeof text === 'string' ? run.stderr.includes(text) : text.test(run.stderr)) return;
  }
  throw new Error(`tandem backup never said ${text}: ${run.stderr.slice(-500)}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** kill -9 of an agent, then a fresh start of it (as systemd's Restart=on-failure would). */
export async function killAgent(f: FaultFleet, node: string): Promise<void> {
  await stopAgent(f.agent(node), 'SIGKILL');
}
export async function restartAgent(f: FaultFleet, node: string): Promise<void> {
  const a = f.agent(node);
  if (a.process && a.process.exitCode === null && a.process.signalCode === null) return;
  await startAgent(f.fleet, a);
}

/** `tandem recover --json`: what the next run does after a fault. */
export async function recover(f: FaultFleet) {
  const r = await runCli(['recover', '--config', f.fleet.fleetFile, '--json']);
  let recovered: { id: string; from: string; result: string; reason: string }[] = [];
  try {
    recovered = JSON.parse(r.stdout).recovered;
  } catch {
    // reported through code and stderr
  }
  return { code: r.code, stderr: r.stderr, recovered };
}

/** Everything of backup `id` still around after a fault and its recovery, one phrase each. */
export async function leftovers(f: FaultFleet, id: string, complete: boolean): Promise<string[]> {
  const out: string[] = [];
  const tag = snapshotTagFor(id);
  await Promise.all(f.env.cassandra.nodes.map(async (n) => {
    // A restarted agent clears debris in the background once its helper JVM is up: given 30 s.
    for (let i = 0; ; i++) {
      const tags = parseSnapshotTags((await runCommand([n.nodetool, 'listsnapshots'], { timeoutMs: 120_000 })).stdout);
      if (!tags.some((t) => t.tag === tag)) return;
      if (i === 5) return void out.push(`${n.name}: Cassandra snapshot ${tag}`);
      await new Promise((r) => setTimeout(r, 6_000));
    }
  }));
  if (!complete) {
    const es = await fetch(`${f.env.elasticsearch.url}/_snapshot/${REPOSITORY}/${tag.toLowerCase()}`);
    if (es.status === 200) out.push(`Elasticsearch snapshot ${REPOSITORY}/${tag.toLowerCase()}`);
  }
  // Read below the Destination interface: hidden temporaries, rsync's partial folder, S3 multipart uploads, the agents' work folders.
  out.push(...(await debrisOf(f.destination, f.fleet.agents, id, { setKept: complete })));
  const hs = handles(f.fleet);
  try {
    for (const h of hs) {
      const s = await h.status(id, 10_000).catch(() => null);
      if (s && [AgentState.PREPARED, AgentState.COMMITTED, AgentState.SHIPPING].includes(s.state)) out.push(`${h.node}: backup ${AgentState[s.state].toLowerCase()}`);
      if (s && !complete && s.state === AgentState.DONE) out.push(`${h.node}: a done part of an incomplete set`);
    }
  } finally {
    hs.forEach((h) => h.close());
  }
  const journal = join(f.fleet.coordinatorDir, 'journal', `${id}.json`);
  if (existsSync(journal)) {
    const step = JSON.parse(readFileSync(journal, 'utf8')).step as string;
    if (!['complete', 'aborted', 'failed'].includes(step)) out.push(`coordinator journal: ${id} still at ${step}`);
  }
  return out;
}

/** True when the set has its manifest. */
export const isComplete = async (f: FaultFleet, id: string) => (await openDestination(f.destination).stat(manifestPath(id))) !== null;

/** `tandem verify id`: '' when it passed, else its last words. */
export async function verifyProblem(f: FaultFleet, id: string): Promise<string> {
  const v = await runCli(['verify', id, '--config', f.fleet.fleetFile]);
  return v.code === 0 ? '' : `verify exit ${v.code}: ${(v.stderr + v.stdout).trim().split('\n').slice(-2).join(' ')}`;
}

/** Hot-writer records acknowledged in all three stores before the set's cut. */
export function ackedBeforeCut(f: FaultFleet, id: string, fromLine: number): WriterRecord[] {
  const manifest = JSON.parse(readFileSync(join(f.fleet.destDir, id, 'manifest.json'), 'utf8'));
  const cut = Math.min(...manifest.nodes.flatMap((n: { commits: Record<string, { cutAt?: number }> }) => Object.values(n.commits).map((c) => c.cutAt ?? Infinity)));
  return writerRecords(f).slice(fromLine).filter((r) => Math.max(Date.parse(r.cassandraAckAt), Date.parse(r.esAckAt), Date.parse(r.fileAckAt)) < cut);
}

export function writerRecords(f: FaultFleet): WriterRecord[] {
  const log = join(f.env.root, 'writer.log');
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as WriterRecord]; } catch { return []; } }) : [];
}

/** The sandbox's backup host over rsync and ssh, in a folder of its own. */
export function rsyncDestination(env: SandboxEnv): DestinationConfig {
  return parseDestinationConfig({
    type: 'rsync',
    host: env.sshd.host,
    port: env.sshd.port,
    user: env.sshd.user,
    path: join(env.sshd.backupHostDir, 'faults'),
    identityFile: env.sshd.keyPath,
    knownHostsFile: env.sshd.knownHosts,
  });
}
