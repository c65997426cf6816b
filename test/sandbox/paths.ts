/**
 * Where the sandbox keeps things, which versions it runs, and the shape of .sandbox/env.json.
 * Everything else in test/sandbox/ derives its paths from here so that one place decides them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Pinned versions. Cassandra/ES are what Central serves; see README.md for why MinIO is a pseudo-version. */
export const VERSIONS = {
  cassandra: '5.0.8',
  elasticsearch: '8.19.21',
  // The RELEASE.2025-10-15T17-29-55Z tag is refused by the Go proxy here (403 "not available");
  // this pseudo-version (the archived repo's last commit) is what the proxy serves.
  minio: 'v0.0.0-20260212201848-7aac2a2c5b7c',
  mavenDependencyPlugin: '3.8.1',
} as const;

export const JAVA_HOME = process.env.JAVA_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64';
export const ES_USER = 'tandem-es';

/** The repository root: the nearest folder above this file holding package.json (works from src and dist). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository root above ${__dirname}`);
    dir = up;
  }
}

/** Cache root outside the clone, so fresh CI clones on the same machine reuse downloads and builds. */
export function cacheRoot(): string {
  return process.env.TANDEM_SANDBOX_CACHE ?? path.join(homedir(), '.cache', 'tandem-sandbox');
}

export interface SandboxPaths {
  root: string;
  state: string;
  pids: string;
  bin: string;
  logs: string;
  cassandra: string;
  es: string;
  esRepo: string;
  minio: string;
  sshd: string;
  files: string;
  backupHost: string;
  envJson: string;
  writerLog: string;
  cache: string;
  cassandraLib: string;
  esHomeCache: string;
  minioBin: string;
}

/**
 * Elasticsearch runs as an unprivileged user, which must traverse every folder above its own. A
 * clone below a private folder (a 700 home) gets its ES folders under /var/tmp instead.
 */
export function esState(root: string, state: string): string {
  for (let dir = root; ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return path.join('/var/tmp', `tandem-sandbox-${createHash('sha1').update(root).digest('hex').slice(0, 8)}`);
    if (path.dirname(dir) === dir) return state;
  }
}

export function sandboxPaths(): SandboxPaths {
  const root = repoRoot();
  const state = path.join(root, '.sandbox');
  const cache = cacheRoot();
  return {
    root,
    state,
    pids: path.join(state, 'pids'),
    bin: path.join(state, 'bin'),
    logs: path.join(state, 'logs'),
    cassandra: path.join(state, 'cassandra'),
    es: path.join(esState(root, state), 'es'),
    esRepo: path.join(esState(root, state), 'es-repo'),
    minio: path.join(state, 'minio'),
    sshd: path.join(state, 'sshd'),
    files: path.join(state, 'files'),
    backupHost: path.join(state, 'backup-host'),
    envJson: path.join(state, 'env.json'),
    writerLog: path.join(state, 'writer.log'),
    cache,
    cassandraLib: path.join(cache, `cassandra-${VERSIONS.cassandra}`, 'lib'),
    esHomeCache: path.join(cache, `elasticsearch-${VERSIONS.elasticsearch}`),
    minioBin: path.join(cache, 'bin', 'minio'),
  };
}

/** The three Cassandra nodes: node N listens on 127.0.0.N and exposes JMX on 7N00. */
export const CASSANDRA_NODES = [1, 2, 3].map((n) => ({
  name: `node${n}`,
  index: n,
  host: `127.0.0.${n}`,
  jmxPort: 7000 + n * 100,
  token: ['-9223372036854775808', '-3074457345618258603', '3074457345618258602'][n - 1]!,
  cluster: 'tandem-sandbox',
  seed: '127.0.0.1',
}));

/**
 * Another cluster, of one node, for restores onto another topology (sstableloader, another node
 * count, another cluster name). Started on demand by the tests that need it, not by `up`.
 */
export const OTHER_CLUSTER_NODE = { name: 'other1', index: 4, host: '127.0.0.4', jmxPort: 7400, token: '0', cluster: 'tandem-other', seed: '127.0.0.4' };

export const ES_URL = 'http://127.0.0.1:9200';
export const MINIO = {
  endpoint: 'http://127.0.0.1:9000',
  accessKey: 'tandem',
  secretKey: 'tandem-secret-key',
  region: 'us-east-1',
  filesBucket: 'thehive',
  backupBucket: 'tandem-backups',
} as const;
export const SSHD_PORT = 2222;

/** .sandbox/env.json: what other code (tests, benchmarks, the demo) reads to find the services. */
export interface SandboxEnv {
  createdAt: string;
  root: string;
  cassandra: {
    version: string;
    datacenter: string;
    keyspace: string;
    nativePort: number;
    contactPoints: string[];
    nodes: Array<{
      name: string;
      host: string;
      jmxHost: string;
      jmxPort: number;
      dataDir: string;
      commitlogDir: string;
      nodetool: string;
      sstableloader: string;
      logFile: string;
    }>;
    nodetool: string;
    sstableloader: string;
    /** Cassandra's jars, for tools that load its classes (the agent's row counter). */
    classpath: string;
  };
  elasticsearch: { version: string; url: string; pathRepo: string; index: string; alias: string; user: string };
  minio: {
    endpoint: string;
    accessKey: string;
    secretKey: string;
    region: string;
    bucket: string;
    filesBucket: string;
    backupBucket: string;
    forcePathStyle: true;
  };
  sshd: {
    host: string;
    port: number;
    user: string;
    keyPath: string;
    knownHosts: string;
    sshArgs: string[];
    backupHostDir: string;
  };
  files: { dir: string };
  writer: { log: string };
}

/** Reads .sandbox/env.json; throws if the sandbox was never brought up. */
export function readSandboxEnv(): SandboxEnv {
  const file = sandboxPaths().envJson;
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run sandbox -- up" first`);
  return JSON.parse(readFileSync(file, 'utf8')) as SandboxEnv;
}

/** The cassandra role's settings for one sandbox node, as an agent.yaml would hold them. */
export function cassandraRoleSettings(env: SandboxEnv, node: SandboxEnv['cassandra']['nodes'][number]) {
  return {
    nodetool: node.nodetool,
    sstableloader: node.sstableloader,
    classpath: env.cassandra.classpath,
    dataDir: node.dataDir,
    jmx: { host: node.jmxHost, port: node.jmxPort },
    cql: { host: node.host },
  };
}
