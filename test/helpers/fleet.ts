/**
 * Test fleet: real tandem-agent processes on loopback ports with mutual TLS, certificates made
 * by `tandem certs`, and the real `tandem` CLI. Nothing here is a double.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import { writeNewIdentityFile } from '../../coordinator/keys';
import { openFleet, type AgentHandle } from '../../coordinator/fleet';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { removeScratch, scratchDir } from './scratch';
import { AGENT_NODE_FLAGS, agentEnv } from './agent-process';
import { signingBlock, writeSigningKeySync, type SigningFiles } from './signing';

const ROOT = resolve(__dirname, '../../..');
/** The agent as tests run it: production roles plus the rehearsal role. */
export const AGENT_MAIN = join(ROOT, 'dist/test/helpers/agent-main.js');
/** The compiled tandem CLI. */
export const CLI_MAIN = join(ROOT, 'dist/coordinator/main.js');

/** One agent of a test fleet. */
export interface TestAgent {
  node: string;
  port: number;
  config: string;
  markerDir: string;
  stateDir: string;
  roles: Record<string, unknown>;
  /** Whether the agent serves /metrics (on 127.0.0.1, a port the system picks). */
  metrics?: boolean;
  /** The port of /metrics, from the agent's "agent ready" line, once it has started. */
  metricsPort?: number;
  /** /metrics over HTTPS with the agent's certificate, client certificates required. */
  metricsTls?: boolean;
  /** The agent's `health` settings (probe interval and deadline), when not the defaults. */
  health?: { intervalSeconds?: number; timeoutSeconds?: number };
  process?: ChildProcess;
  log: string[];
}

/** A test fleet on disk. */
export interface TestFleet {
  dir: string;
  pki: string;
  fleetFile: string;
  /** The coordinator's state folder (its backup lock) named by fleetFile: inside dir. */
  coordinatorDir: string;
  destDir: string;
  agents: TestAgent[];
  /** The fleet's signing key pair (the fleet file's signing.key and its public key). */
  signing: SigningFiles;
}

/**
 * A port the system just handed out on 127.0.0.1 and that nothing listens on now: bound on port 0
 * and released, rather than guessed (guesses clash with other runs on the machine).
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Agent processes started here and not seen to exit. */
const running = new Set<ChildProcess>();
// Runs before the scratch folders' removal (prepended): an agent a failed test left running would
// keep writing into its fleet's folder, and outlive the test process.
process.prependListener('exit', () => running.forEach((p) => p.kill('SIGKILL')));

/** Creates a CA, certificates and configs for agents with the given roles; starts nothing. */
export async function makeFleet(
  specs: { node: string; roles?: Record<string, unknown>; metrics?: boolean | 'tls'; port?: number; health?: TestAgent['health'] }[],
  opts: {
    leaseMs?: number;
    prepareTimeoutMs?: number;
    extraAgents?: { node: string; port: number }[];
    destination?: Record<string, unknown>;
    trustedSigningKeys?: string[];
    /** The agents' S3 keys (a 0600 credentials file each agent's config names); default: an S3 destination's literal keys, else none. */
    agentS3Keys?: { accessKeyId: string; secretAccessKey: string };
  } = {},
): Promise<TestFleet> {
  const dir = await scratchDir('fleet');
  const pki = join(dir, 'pki');
  await mkdir(pki, { mode: 0o700 });
  await initCa(pki);
  await issueCert(pki, 'coordinator', 'coordinator', []);
  const destDir = join(dir, 'dest');
  await mkdir(destDir);
  const agents: TestAgent[] = [];
  // The coordinator never sends the keys: agents read theirs from a file only they can read.
  const credentialsFile = await writeAgentS3Keys(pki, opts.agentS3Keys ?? literalS3Keys(opts.destination));
  for (const s of specs) {
    await issueCert(pki, s.node, 'agent', ['127.0.0.1']);
    const a: TestAgent = {
      node: s.node,
      // A fixed port when the caller owns one; otherwise one the system hands out.
      port: s.port ?? (await freePort()),
      config: join(dir, `${s.node}.yaml`),
      markerDir: join(dir, 'markers', s.node),
      stateDir: join(dir, 'state', s.node),
      roles: s.roles ?? { rehearsal: {} },
      metrics: Boolean(s.metrics),
      metricsTls: s.metrics === 'tls',
      health: s.health,
      log: [],
    };
    if (a.roles.rehearsal) a.roles = { ...a.roles, rehearsal: { markerDir: a.markerDir, ...(a.roles.rehearsal as object) } };
    await writeAgentConfig(pki, a, credentialsFile);
    agents.push(a);
  }
  const fleetFile = join(dir, 'fleet.yaml');
  const coordinatorDir = join(dir, 'coordinator');
  // The coordinator's signing key, beside the certificates: every set of this fleet is signed with it.
  const signing = writeSigningKeySync(pki);
  const entries = [
    ...agents.map((a) => ({ node: a.node, address: `127.0.0.1:${a.port}`, roles: Object.keys(a.roles) })),
    ...(opts.extraAgents ?? []).map((x) => ({ node: x.node, address: `127.0.0.1:${x.port}`, roles: ['rehearsal'] })),
  ];
  await writeFile(
    fleetFile,
    JSON.stringify({
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'coordinator.crt'), key: join(pki, 'coordinator.key') },
      stateDir: coordinatorDir,
      agents: entries,
      destination: opts.destination ?? { type: 'local', path: destDir },
      signing: signingBlock(signing, opts.trustedSigningKeys),
      // The lease outlives the wait for votes (the fleet file's schema refuses less).
      backup: { leaseMs: opts.leaseMs ?? Math.max(30_000, opts.prepareTimeoutMs ?? 10_000), prepareTimeoutMs: opts.prepareTimeoutMs ?? 10_000, commitTimeoutMs: 5000 },
    }),
  );
  return { dir, pki, fleetFile, coordinatorDir, destDir, agents, signing };
}

/** Another fleet file for the same agents whose coordinator state folder is `<dir>/<name>`: a coordinator run with it does not see the other's lock. */
export async function otherFleetFile(fleet: TestFleet, name: string): Promise<string> {
  const config = JSON.parse(await readFile(fleet.fleetFile, 'utf8')) as Record<string, unknown>;
  const file = join(fleet.dir, `${name}.yaml`);
  await writeFile(file, JSON.stringify({ ...config, stateDir: join(fleet.dir, name) }));
  return file;
}

/** The literal keys of an S3 destination, if it has them. */
function literalS3Keys(d: Record<string, unknown> | undefined): { accessKeyId: string; secretAccessKey: string } | undefined {
  return d?.type === 's3' && typeof d.accessKeyId === 'string' && typeof d.secretAccessKey === 'string' ? { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey } : undefined;
}

/** Writes the agents' shared-credentials file (mode 0600) and returns its path; null without keys. */
async function writeAgentS3Keys(pki: string, keys: { accessKeyId: string; secretAccessKey: string } | undefined): Promise<string | null> {
  if (!keys) return null;
  const file = join(pki, 's3-credentials');
  await writeFile(file, `[default]\naws_access_key_id = ${keys.accessKeyId}\naws_secret_access_key = ${keys.secretAccessKey}\n`, { mode: 0o600 });
  return file;
}

async function writeAgentConfig(pki: string, a: TestAgent, credentialsFile: string | null = null): Promise<void> {
  // JSON is YAML: the agent reads it with the same loader.
  await writeFile(
    a.config,
    JSON.stringify({
      node: a.node,
      listen: `127.0.0.1:${a.port}`,
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, `${a.node}.crt`), key: join(pki, `${a.node}.key`) },
      stateDir: a.stateDir,
      roles: a.roles,
      ...(credentialsFile ? { destinationCredentials: { s3: { file: credentialsFile } } } : {}),
      // Port 0: the system picks a free one (no clash with other test runs on the machine).
      ...(a.metrics ? { metrics: { listen: '127.0.0.1:0', tls: a.metricsTls } } : {}),
      ...(a.health ? { health: a.health } : {}),
    }),
  );
}

/** Starts an agent process and waits until it answers Describe. */
export async function startAgent(fleet: TestFleet, a: TestAgent): Promise<void> {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_MAIN, '--config', a.config], {
    env: { ...process.env, ...agentEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  a.process = child;
  running.add(child);
  child.once('exit', () => running.delete(child));
  // The log keeps earlier runs of this agent: only this process's "agent ready" counts.
  const from = a.log.length;
  const collect = (d: Buffer) => a.log.push(...d.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // Wait for the agent's own "agent ready" line before connecting: a channel that tried too early
  // backs off for longer and longer (grpc-js's reconnect backoff), and an agent with the cassandra
  // role starts slowly on a loaded machine (it lists snapshots with nodetool, a JVM, first).
  for (let i = 0; !a.log.slice(from).some((l) => l.includes('"agent ready"')); i++) {
    if (child.exitCode !== null) throw new Error(`agent ${a.node} exited: ${a.log.join('\n')}`);
    if (i > 1200) throw new Error(`agent ${a.node} was not ready within 120 s: ${a.log.join('\n')}`);
    await sleep(100);
  }
  const ready = a.log.find((l) => l.includes('"agent ready"'))!;
  a.metricsPort = (JSON.parse(ready) as { metricsPort?: number | null }).metricsPort ?? undefined;
  const errors: string[] = [];
  for (let i = 0; i < 10; i++) {
    const [handle] = handles(fleet, [a.node]);
    try {
      await handle.describe(5000);
      return;
    } catch (err) {
      errors.push((err as Error).message);
      await sleep(200);
    } finally {
      handle.close();
    }
  }
  throw new Error(`agent ${a.node} is ready but does not answer Describe: ${errors.join('; ')}\n${a.log.join('\n')}`);
}

/** Stops an agent: SIGTERM by default, SIGKILL to simulate a crash. */
export async function stopAgent(a: TestAgent, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const p = a.process;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await exited;
}

/** Starts every agent of the fleet. */
export async function startFleet(fleet: TestFleet): Promise<void> {
  await Promise.all(fleet.agents.map((a) => startAgent(fleet, a)));
}

/** Stops every agent of the fleet; its folder stays (a test may start the fleet again). */
export async function stopFleet(fleet: TestFleet): Promise<void> {
  await Promise.all(fleet.agents.map((a) => stopAgent(a)));
}

/** Stops every agent and removes the fleet's folder now, not at exit: a fleet's destination can hold gigabytes. */
export async function removeFleet(fleet: TestFleet): Promise<void> {
  await stopFleet(fleet);
  removeScratch(fleet.dir);
}

/** gRPC handles to some agents, as the coordinator builds them (mutual TLS). */
export function handles(fleet: TestFleet, nodes = fleet.agents.map((a) => a.node)): AgentHandle[] {
  const tls = { ca: join(fleet.pki, 'ca.crt'), cert: join(fleet.pki, 'coordinator.crt'), key: join(fleet.pki, 'coordinator.key') };
  const entries = fleet.agents.filter((a) => nodes.includes(a.node)).map((a) => ({ node: a.node, address: `127.0.0.1:${a.port}`, roles: Object.keys(a.roles) as ['rehearsal'] }));
  return openFleet(entries, tls);
}

/** Runs the real `tandem` CLI and collects its output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** A port with nothing listening on it (see freePort). */
export function unusedPort(): Promise<number> {
  return freePort();
}

/** The agents' answer to GetStatus for one id: the state's name, or the error's gRPC code name. */
export async function statusOf(fleet: TestFleet, id: string): Promise<string[]> {
  const hs = handles(fleet);
  try {
    return await Promise.all(hs.map((h) => h.status(id, 3000).then((s) => AgentState[s.state], (err: Error) => err.message.match(/NOT_FOUND/)?.[0] ?? err.message)));
  } finally {
    hs.forEach((h) => h.close());
  }
}

/** Makes an age identity in `<fleet dir>/keys` and has the fleet file encrypt its sets to it (the identity named for restores). */
export async function encryptFleet(fleet: Pick<TestFleet, 'dir' | 'fleetFile'>): Promise<{ file: string; recipient: string }> {
  const ops = await writeNewIdentityFile(join(fleet.dir, 'keys'));
  const config = JSON.parse(await readFile(fleet.fleetFile, 'utf8')) as Record<string, unknown>;
  await writeFile(fleet.fleetFile, JSON.stringify({ ...config, encryption: { mode: 'age', recipients: [ops.recipient], identity: ops.file } }));
  return ops;
}
