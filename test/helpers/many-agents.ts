/**
 * Hundreds of tandem agents on one machine, for the scale bench and the scale test: a few host
 * processes (test/helpers/agent-host.ts), each running 50–100 agents with the rehearsal role,
 * every agent with its own certificate (made by `tandem certs`' code), state folder and gRPC
 * port on loopback (port 0: the system picks), real mutual TLS; a fleet file naming them all,
 * and the real `tandem` CLI run against them with its peak RSS and CPU time measured.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import type { Arrival, HostMessage } from './agent-host';
import { CLI_MAIN } from './fleet';
import { removeScratch, scratchDir } from './scratch';
import { signingBlock, writeSigningKeySync } from './signing';

const ROOT = resolve(__dirname, '../../..');
const HOST_MAIN = join(ROOT, 'dist/test/helpers/agent-host.js');

/** Node names of a fleet of `count` agents: n0001, n0002, … */
export const nodeNames = (count: number) => Array.from({ length: count }, (_, i) => `n${String(i + 1).padStart(4, '0')}`);

/** Makes the CA and the coordinator's certificate in `pki` when missing, and an agent certificate for each node that has none. */
export async function ensurePki(pki: string, nodes: readonly string[]): Promise<void> {
  await mkdir(pki, { recursive: true, mode: 0o700 });
  if (!existsSync(join(pki, 'ca.crt'))) await initCa(pki);
  if (!existsSync(join(pki, 'coordinator.crt'))) await issueCert(pki, 'coordinator', 'coordinator', []);
  // One after another: openssl keeps the CA's serial in one file.
  for (const node of nodes) if (!existsSync(join(pki, `${node}.crt`))) await issueCert(pki, node, 'agent', ['127.0.0.1']);
}

/** Options of startManyAgents. */
export interface ManyAgentsOptions {
  /** Agents per host process; default 100. */
  perHost?: number;
  /** A folder of certificates to reuse (issued into when missing); default a new one in the fleet's folder. */
  pki?: string;
  /**
   * Where the agents' state folders go; default the fleet's folder. The bench puts them on
   * /dev/shm: agents in one host share one event loop, and each one's fsynced state write at
   * Commit would delay the next one's arrival, which separate hosts do not do to each other.
   */
  stateRoot?: string;
  /** The rehearsal role's time in ship, ms; default 200. */
  shipMs?: number;
  /** Writes a V8 CPU profile of each host process into this folder when it stops; default none. */
  profileDir?: string;
}

/** One host process. */
interface Host {
  child: ChildProcess;
  nodes: string[];
  log: string;
}

/** A running fleet of many agents. */
export interface ManyAgents {
  dir: string;
  fleetFile: string;
  destDir: string;
  nodes: string[];
  /** Every Prepare and Commit the agents answered since the last call, from every host. */
  arrivals(): Promise<Arrival[]>;
  /** Each host's RSS, bytes. */
  hostRss(): Promise<number[]>;
  /** Stops every host and removes the folders. */
  stop(): Promise<void>;
}

/** Starts `count` agents in ⌈count / perHost⌉ processes and writes a fleet file for them (local destination). */
export async function startManyAgents(count: number, opts: ManyAgentsOptions = {}): Promise<ManyAgents> {
  const perHost = opts.perHost ?? 100;
  const dir = await scratchDir('many');
  const stateRoot = opts.stateRoot ? await scratchDir('many', opts.stateRoot) : join(dir, 'state');
  const pki = opts.pki ?? join(dir, 'pki');
  const nodes = nodeNames(count);
  await ensurePki(pki, nodes);
  const destDir = join(dir, 'dest');
  await mkdir(destDir);
  const configs: string[] = [];
  for (const node of nodes) {
    const file = join(dir, 'agents', `${node}.yaml`);
    await mkdir(join(dir, 'agents'), { recursive: true });
    // JSON is YAML: the agent reads it with the same loader.
    await writeFile(file, JSON.stringify({
      node,
      listen: '127.0.0.1:0',
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, `${node}.crt`), key: join(pki, `${node}.key`) },
      stateDir: join(stateRoot, node),
      roles: { rehearsal: { markerDir: join(stateRoot, node, 'markers'), shipMs: opts.shipMs ?? 200 } },
    }));
    configs.push(file);
  }
  const hosts: Host[] = [];
  const ports = new Map<string, number>();
  try {
    for (let i = 0; i < configs.length; i += perHost) {
      const log = join(dir, `host-${hosts.length + 1}.log`);
      const fd = openSync(log, 'a');
      const execArgv = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
      const child = fork(HOST_MAIN, configs.slice(i, i + perHost), { stdio: ['ignore', fd, fd, 'ipc'], execArgv });
      closeSync(fd);
      hosts.push({ child, nodes: nodes.slice(i, i + perHost), log });
    }
    // Started together: each host binds its agents one after another.
    await Promise.all(hosts.map(async (h) => {
      const m = await nextMessage(h, 'ready', 180_000);
      for (const a of m.agents) ports.set(a.node, a.port);
    }));
  } catch (err) {
    hosts.forEach((h) => h.child.kill('SIGKILL'));
    throw err;
  }
  const fleetFile = join(dir, 'fleet.yaml');
  await writeFile(fleetFile, JSON.stringify({
    tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'coordinator.crt'), key: join(pki, 'coordinator.key') },
    stateDir: join(dir, 'coordinator'),
    agents: nodes.map((node) => ({ node, address: `127.0.0.1:${ports.get(node)}`, roles: ['rehearsal'] })),
    destination: { type: 'local', path: destDir },
    // In this fleet's own folder, not the (possibly shared) pki: each fleet signs with its own key.
    signing: signingBlock(writeSigningKeySync(join(dir, 'signing'))),
  }));
  return {
    dir,
    fleetFile,
    destDir,
    nodes,
    async arrivals() {
      const all = await Promise.all(hosts.map((h) => ask(h, 'arrivals')));
      return all.flatMap((m) => m.arrivals);
    },
    async hostRss() {
      return (await Promise.all(hosts.map((h) => ask(h, 'arrivals')))).map((m) => m.rssBytes);
    },
    async stop() {
      await Promise.all(hosts.map(async (h) => {
        if (h.child.exitCode !== null) return;
        const exited = new Promise((r) => h.child.once('exit', r));
        h.child.send({ type: 'stop' });
        const t = setTimeout(() => h.child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }));
      removeScratch(dir);
      if (opts.stateRoot) removeScratch(stateRoot);
    },
  };
}

/** Asks a host for its arrivals since the last call and its RSS. */
async function ask(h: Host, type: 'arrivals'): Promise<Extract<HostMessage, { type: 'arrivals' }>> {
  const reply = nextMessage(h, type, 30_000);
  h.child.send({ type });
  return reply;
}

/** The host's next message of `type`; fails when it reports a failure, exits or stays silent. */
function nextMessage<T extends HostMessage['type']>(h: Host, type: T, timeoutMs: number): Promise<Extract<HostMessage, { type: T }>> {
  return new Promise((resolvePromise, reject) => {
    const done = () => {
      clearTimeout(timer);
      h.child.off('message', onMessage);
      h.child.off('exit', onExit);
    };
    const fail = async (why: string) => {
      done();
      const tail = (await readFile(h.log, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
      reject(new Error(`agent host of ${h.nodes[0]}…${h.nodes.at(-1)}: ${why}\n${tail}`));
    };
    const onMessage = (m: HostMessage) => {
      if (m.type === 'failed') void fail(m.error);
      else if (m.type === type) {
        done();
        resolvePromise(m as Extract<HostMessage, { type: T }>);
      }
    };
    const onExit = (code: number | null) => void fail(`exited with ${code}`);
    const timer = setTimeout(() => void fail(`no '${type}' within ${timeoutMs} ms`), timeoutMs);
    h.child.on('message', onMessage);
    h.child.once('exit', onExit);
  });
}

/** A line the CLI wrote on stderr, with when the harness read it (ms since the epoch). */
export interface StampedLine {
  at: number;
  text: string;
}

/** One CLI run with what it cost. */
export interface MeasuredRun {
  code: number;
  stdout: string;
  stderr: StampedLine[];
  startedAt: number;
  wallMs: number;
  /** Peak resident set size of the CLI's process (VmHWM), bytes. */
  peakRssBytes: number;
  /** User + system CPU time of the CLI's process, ms. */
  cpuMs: number;
}

/**
 * Runs the real `tandem` CLI; its peak RSS and CPU time come from /usr/bin/time when present,
 * else from /proc/<pid>/status (VmHWM) and /proc/<pid>/stat read every 20 ms until it exits.
 * With `profileDir`, the CLI writes a V8 CPU profile there.
 */
export async function runCliMeasured(args: string[], opts: { env?: Record<string, string>; profileDir?: string } = {}): Promise<MeasuredRun> {
  const env = opts.env ?? {};
  const gnuTime = existsSync('/usr/bin/time');
  const timeDir = gnuTime ? await scratchDir('time') : '';
  const timeFile = join(timeDir, 'time');
  const node = [process.execPath, ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []), CLI_MAIN, ...args];
  const argv = gnuTime ? ['/usr/bin/time', '-f', '%M %U %S', '-o', timeFile, ...node] : node;
  const startedAt = Date.now();
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const stderr: StampedLine[] = [];
  let partial = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => {
    const at = Date.now();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const text of lines) stderr.push({ at, text });
  });
  let polled = { peakRssBytes: 0, cpuMs: 0 };
  const poll = gnuTime ? null : setInterval(() => void readProc(child.pid!).then((p) => p && (polled = p)), 20);
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
  const wallMs = Date.now() - startedAt;
  if (poll) clearInterval(poll);
  if (partial) stderr.push({ at: Date.now(), text: partial });
  if (gnuTime) {
    const text = await readFile(timeFile, 'utf8').finally(() => removeScratch(timeDir));
    // The last line holds the format; a non-zero exit adds "Command exited with non-zero status N" before it.
    const [kb, user, sys] = text.trim().split('\n').at(-1)!.split(' ').map(Number);
    polled = { peakRssBytes: kb * 1024, cpuMs: Math.round((user + sys) * 1000) };
  }
  return { code, stdout, stderr, startedAt, wallMs, ...polled };
}

/** VmHWM and utime+stime of a live process; null once it is gone. */
async function readProc(pid: number): Promise<{ peakRssBytes: number; cpuMs: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { peakRssBytes: kb * 1024, cpuMs: Math.round((ticks * 1000) / 100) };
  } catch {
    return null;
  }
}
