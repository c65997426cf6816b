/**
 * The sandbox's tandem fleet: a CA and certificates, one agent per Cassandra node (the
 * elasticsearch and files roles on node1), `.sandbox/fleet.yaml`, and the agents as daemons,
 * so `tandem backup --config .sandbox/fleet.yaml` works right after `up`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import { IDENTITY_FILE_NAME, loadIdentityFile, writeNewIdentityFile } from '../../coordinator/keys';
import { AGENT_NODE_FLAGS, agentEnv } from '../helpers/agent-process';
import { signingBlock, writeSigningKeySync } from '../helpers/signing';
import { CASSANDRA_NODES, ES_URL, MINIO, sandboxPaths } from './paths';
import { readPid, runningPid, sleep, startDaemon, stopDaemon, portOpen } from './procs';

/** Agent gRPC ports: node N listens on 127.0.0.1:740N. */
export const AGENT_PORT = (n: number) => 7400 + n;
const agentDaemon = (n: number) => `agent-node${n}`;

/**
 * The variables that hold each agent's MinIO keys, named by its `destinationCredentials` (as a
 * systemd drop-in's EnvironmentFile= would set them): a fleet file switched to the MinIO bucket
 * sends the agents no keys.
 */
const S3_KEY_ENV = { accessKeyIdEnv: 'TANDEM_S3_ACCESS_KEY_ID', secretAccessKeyEnv: 'TANDEM_S3_SECRET_ACCESS_KEY' } as const;

/** Where the fleet's files live. */
export function fleetPaths() {
  const root = sandboxPaths().state;
  return {
    pki: path.join(root, 'pki'),
    agents: path.join(root, 'agents'),
    /** The coordinator's signing key pair (signing.key, signing.pub), kept across runs. */
    signing: path.join(root, 'agents', 'signing'),
    /** The fleet's age identity (age-identity.txt), kept across runs so earlier encrypted sets still open. */
    keys: path.join(root, 'agents', 'keys'),
    fleetYaml: path.join(root, 'fleet.yaml'),
    backups: path.join(root, 'backups'),
    esRepoLocation: path.join(sandboxPaths().esRepo, 'tandem'),
  };
}

/** Writes certificates (once) and every configuration file (each time). */
export async function writeFleet(): Promise<string> {
  const f = fleetPaths();
  const p = sandboxPaths();
  mkdirSync(f.pki, { recursive: true, mode: 0o700 });
  mkdirSync(f.agents, { recursive: true });
  mkdirSync(f.backups, { recursive: true });
  if (!existsSync(path.join(f.pki, 'ca.crt'))) {
    await initCa(f.pki);
    await issueCert(f.pki, 'coordinator', 'coordinator', []);
    for (const n of CASSANDRA_NODES) await issueCert(f.pki, n.name, 'agent', ['127.0.0.1', 'localhost']);
  }
  const tls = (name: string) => ({ ca: path.join(f.pki, 'ca.crt'), cert: path.join(f.pki, `${name}.crt`), key: path.join(f.pki, `${name}.key`) });
  for (const n of CASSANDRA_NODES) {
    const roles: Record<string, unknown> = {
      cassandra: {
        nodetool: path.join(p.bin, n.name, 'nodetool'),
        sstableloader: path.join(p.bin, n.name, 'sstableloader'),
        classpath: path.join(p.cassandraLib, '*'),
        dataDir: path.join(p.cassandra, n.name, 'data'),
        keyspace: 'thehive',
        jmx: { host: '127.0.0.1', port: n.jmxPort },
        cql: { host: n.host, port: 9042 },
      },
    };
    if (n.index === 1) {
      roles.elasticsearch = { url: ES_URL, repository: 'tandem', repositoryLocation: f.esRepoLocation, allowYellow: true };
      // Restores and drills of the sandbox go to scratch folders under the OS temp folder, or the drill's default.
      roles.files = { store: 'localfs', location: p.files, restoreTargets: [p.files, path.join(p.state, 'drill'), '/var/tmp/tandem-drill', tmpdir()] };
    }
    const config = { node: n.name, listen: `127.0.0.1:${AGENT_PORT(n.index)}`, tls: tls(n.name), stateDir: path.join(f.agents, n.name, 'state'), destinationCredentials: { s3: S3_KEY_ENV }, roles };
    writeFileSync(path.join(f.agents, `${n.name}.yaml`), stringify(config));
  }
  const fleet = {
    tls: tls('coordinator'),
    stateDir: path.join(f.agents, 'coordinator'),
    agents: CASSANDRA_NODES.map((n) => ({
      node: n.name,
      address: `127.0.0.1:${AGENT_PORT(n.index)}`,
      roles: n.index === 1 ? ['cassandra', 'elasticsearch', 'files'] : ['cassandra'],
    })),
    destination: { type: 'local', path: f.backups },
    // Made once and kept: the sets of earlier runs stay signed by a key the fleet file trusts.
    signing: signingBlock(writeSigningKeySync(f.signing)),
    // Every set is encrypted, as a fleet holding incident data should be; TANDEM_SANDBOX_ENCRYPTION=none writes them in clear.
    encryption: process.env.TANDEM_SANDBOX_ENCRYPTION === 'none' ? { mode: 'none' } : await ageBlock(f.keys),
  };
  writeFileSync(f.fleetYaml, stringify(fleet));
  return f.fleetYaml;
}

/** The fleet file's `encryption:` block, with the sandbox's identity made on first use. */
async function ageBlock(dir: string) {
  const file = path.join(dir, IDENTITY_FILE_NAME);
  const recipient = existsSync(file) ? (await loadIdentityFile(file))[0].recipient.toString() : (await writeNewIdentityFile(dir)).recipient;
  return { mode: 'age', recipients: [recipient], identity: file };
}

/** Starts the agents that are not running and waits for their ports. */
export async function startAgents(log: (m: string) => void): Promise<void> {
  const f = fleetPaths();
  const main = path.join(__dirname, '..', '..', 'agent', 'main.js');
  for (const n of CASSANDRA_NODES) {
    if (runningPid(agentDaemon(n.index))) continue;
    startDaemon({
      name: agentDaemon(n.index),
      argv: [process.execPath, ...AGENT_NODE_FLAGS, main, '--config', path.join(f.agents, `${n.name}.yaml`)],
      logFile: path.join(f.agents, `${n.name}.log`),
      env: { ...agentEnv(), [S3_KEY_ENV.accessKeyIdEnv]: MINIO.accessKey, [S3_KEY_ENV.secretAccessKeyEnv]: MINIO.secretKey },
    });
  }
  for (const n of CASSANDRA_NODES) {
    for (let i = 0; !(await portOpen('127.0.0.1', AGENT_PORT(n.index))); i++) {
      if (i > 100 || !runningPid(agentDaemon(n.index))) throw new Error(`agent ${n.name} did not start; see ${path.join(f.agents, `${n.name}.log`)}`);
      await sleep(200);
    }
  }
  log(`agents up on 127.0.0.1:${CASSANDRA_NODES.map((n) => AGENT_PORT(n.index)).join(',')}; fleet file ${f.fleetYaml}`);
}

/** Stops the agents the sandbox started. */
export async function stopAgents(): Promise<void> {
  for (const n of CASSANDRA_NODES) if (readPid(agentDaemon(n.index))) await stopDaemon(agentDaemon(n.index), 15_000);
}
