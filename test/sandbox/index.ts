/**
 * The sandbox as a library, for test helpers and benchmarks:
 *   sandboxUp(), sandboxDown({ wipe }), sandboxStatus(), readSandboxEnv(), seedSandbox(), startWriter()…
 * main.ts is only the command line over these.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cassandraDaemonNames, nodeEnv, ringStatus, startCassandra } from './cassandra';
import { ES_DAEMON, esGet, esPathRepo, esVersion, startElasticsearch } from './elasticsearch';
import { installApt, installCassandra, installElasticsearch, installMinio } from './install';
import { MINIO_DAEMON, minioLive, startMinio } from './minio';
import { CASSANDRA_NODES, ES_USER, ES_URL, MINIO, sandboxPaths, SSHD_PORT, VERSIONS, type SandboxEnv } from './paths';
import { runningPid, stopDaemon } from './procs';
import { SSHD_DAEMON, sshArgs, sshdFiles, sshWorks, startSshd } from './sshd';
import { stopWriter, WRITER_DAEMON } from './writer';
import { startAgents, writeFleet } from './fleet';

export { cassandraRoleSettings, readSandboxEnv, sandboxPaths, type SandboxEnv } from './paths';
export { otherClusterNode, startOtherCluster, stopOtherCluster } from './cassandra';
export { seedSandbox, parseSize, type SeedResult } from './seed';
export { startWriter, stopWriter, runWriter, type WriterRecord } from './writer';

export type Log = (msg: string) => void;
const defaultLog: Log = (m) => process.stderr.write(`[sandbox] ${m}\n`);

/** Installs what is missing, starts what is not running, writes .sandbox/env.json. Idempotent. */
export async function sandboxUp(log: Log = defaultLog): Promise<SandboxEnv> {
  const t0 = Date.now();
  const p = sandboxPaths();
  for (const dir of [p.state, p.pids, p.files, p.backupHost]) mkdirSync(dir, { recursive: true });
  await installApt();
  // The MinIO build is CPU-bound and slow on a first run: let it overlap the JVM downloads and starts.
  const minioBuilt = installMinio();
  minioBuilt.catch(() => undefined);
  await Promise.all([installCassandra(), installElasticsearch()]);
  await startSshd(log);
  // Cassandra's nodes start one after another; Elasticsearch starts alongside them.
  await Promise.all([startCassandra(log), startElasticsearch(log)]);
  await minioBuilt;
  await startMinio(log);
  const env = await writeEnvJson();
  // The tandem fleet on top: certificates, agent configs, fleet.yaml, and the three agents.
  await writeFleet();
  await startAgents(log);
  log(`sandbox up in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${p.envJson}`);
  return env;
}

export async function writeEnvJson(): Promise<SandboxEnv> {
  const p = sandboxPaths();
  const ssh = sshdFiles();
  const env: SandboxEnv = {
    createdAt: new Date().toISOString(),
    root: p.state,
    cassandra: {
      version: VERSIONS.cassandra,
      datacenter: 'datacenter1',
      keyspace: 'thehive',
      nativePort: 9042,
      contactPoints: CASSANDRA_NODES.map((n) => n.host),
      nodes: CASSANDRA_NODES.map(nodeEnv),
      nodetool: path.join(p.bin, 'nodetool'),
      sstableloader: path.join(p.bin, 'sstableloader'),
      classpath: path.join(p.cassandraLib, '*'),
    },
    elasticsearch: {
      version: await esVersion().catch(() => VERSIONS.elasticsearch),
      url: ES_URL,
      pathRepo: esPathRepo(),
      index: 'thehive_global',
      alias: 'thehive',
      user: ES_USER,
    },
    minio: {
      endpoint: MINIO.endpoint,
      accessKey: MINIO.accessKey,
      secretKey: MINIO.secretKey,
      region: MINIO.region,
      bucket: MINIO.backupBucket,
      filesBucket: MINIO.filesBucket,
      backupBucket: MINIO.backupBucket,
      forcePathStyle: true,
    },
    sshd: {
      host: '127.0.0.1',
      port: SSHD_PORT,
      user: 'root',
      keyPath: ssh.clientKey,
      knownHosts: ssh.knownHosts,
      sshArgs: sshArgs(),
      backupHostDir: p.backupHost,
    },
    files: { dir: p.files },
    writer: { log: p.writerLog },
  };
  writeFileSync(p.envJson, `${JSON.stringify(env, null, 2)}\n`);
  return env;
}

/** Stops every daemon the sandbox recorded (by its pid only); with wipe, removes .sandbox/ (never the cache). */
export async function sandboxDown(opts: { wipe?: boolean } = {}, log: Log = defaultLog): Promise<void> {
  await stopWriter();
  // Every pid file counts, not just the services below: other sandbox parts (the fleet's agents)
  // record their daemons in .sandbox/pids too. Clients of the services stop first.
  const services = [SSHD_DAEMON, MINIO_DAEMON, ES_DAEMON, ...cassandraDaemonNames()];
  const pidDir = sandboxPaths().pids;
  const others = existsSync(pidDir)
    ? readdirSync(pidDir).filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -4)).filter((n) => !services.includes(n))
    : [];
  for (const group of [others, services]) {
    await Promise.all(group.map(async (n) => {
      if (await stopDaemon(n, 30_000)) log(`stopped ${n}`);
    }));
  }
  if (opts.wipe) {
    const p = sandboxPaths();
    // The ES folders may live outside .sandbox (see esState); they go too.
    for (const dir of [p.es, p.esRepo, p.state]) rmSync(dir, { recursive: true, force: true });
    log(`removed ${p.state}`);
  }
}

export interface SandboxStatus {
  ok: boolean;
  cassandra: { ok: boolean; states: Record<string, string>; text: string };
  elasticsearch: { ok: boolean; health: string };
  minio: { ok: boolean };
  sshd: { ok: boolean };
  writer: { running: boolean };
}

export async function sandboxStatus(): Promise<SandboxStatus> {
  const [ring, es, s3, ssh] = await Promise.all([
    ringStatus().catch((e: Error) => ({ text: e.message, states: new Map<string, string>() })),
    esGet('/_cluster/health').then((r) => (r.body as { status?: string }).status ?? 'unknown', () => 'unreachable'),
    minioLive(),
    sshWorks(),
  ]);
  const cassOk = CASSANDRA_NODES.every((n) => ring.states.get(n.host) === 'UN');
  const esOk = es === 'green' || es === 'yellow';
  return {
    ok: cassOk && esOk && s3 && ssh,
    cassandra: { ok: cassOk, states: Object.fromEntries(ring.states), text: ring.text },
    elasticsearch: { ok: esOk, health: es },
    minio: { ok: s3 },
    sshd: { ok: ssh },
    writer: { running: runningPid(WRITER_DAEMON) !== undefined },
  };
}
