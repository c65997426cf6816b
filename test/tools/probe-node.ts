/**
 * A private single Cassandra node for the probes (pitr-probe, cdc-probe): its own address,
 * JMX port, cluster name and scratch folder, run from the sandbox's installed Cassandra (its jars
 * only; the sandbox's three nodes are not touched). Started in the foreground as a child process,
 * stopped with kill -9 by the probe (in a finally).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { CASSANDRA_JDK17_FLAGS } from '../../agent/roles/cassandra/jvm';
import { javaBin, singleTokenNodeYaml } from '../sandbox/cassandra';
import { sandboxPaths } from '../sandbox/paths';

/** Where a probe's node listens and what it is called. */
export interface ProbeNode {
  /** Its listen, rpc and CQL address, e.g. 127.0.0.5. */
  host: string;
  /** Its local JMX port. */
  jmxPort: number;
  /** Its cluster_name. */
  cluster: string;
}

/** The node's cassandra.yaml: one token, its folders under `dir`, periodic sync every 10 s, 8 MiB segments; `extra` appended. */
export function probeYaml(n: ProbeNode, dir: string, extra = ''): string {
  return `${singleTokenNodeYaml({ cluster: n.cluster, host: n.host, token: '0', seed: n.host, dir })}concurrent_compactors: 1
memtable_flush_writers: 1
block_for_peers_timeout_in_secs: -1
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
${extra}`;
}

/** INFO to the console (which start() sends to `<dir>/logs/system.log`): without one, logback logs everything at DEBUG. */
const LOGBACK = `<configuration><appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender"><encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder></appender><root level="INFO"><appender-ref ref="STDOUT"/></root></configuration>\n`;

/** `yyyy:MM:dd HH:mm:ss` in UTC, the form CommitLogArchiver parses. */
export const restorePoint = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace(/-/g, ':').replace('T', ' ');

/** The Cassandra version of the installed jars, from their folder's name (cassandra-5.0.8). */
export const installedCassandra = (): string => sandboxPaths().cassandraLib.split('/').slice(-2, -1)[0];

/**
 * Starts the node on `<dir>/cassandra.yaml`; the conf folder `<dir>/conf` comes first on the
 * class path (CommitLogArchiver reads commitlog_archiving.properties from it). Its output is
 * appended to `<dir>/logs/system.log`. `jvmFlags` go before the main class (e.g. -Dcassandra.commitlog.ignorereplayerrors=true).
 */
export function startProbeNode(n: ProbeNode, dir: string, jvmFlags: readonly string[] = []): ChildProcess {
  const lib = sandboxPaths().cassandraLib;
  const jamm = readdirSync(lib).find((f) => /^jamm-.*\.jar$/.test(f));
  writeFileSync(join(dir, 'conf', 'logback.xml'), LOGBACK);
  const out = openSync(join(dir, 'logs', 'system.log'), 'a');
  try {
    return spawn(javaBin(), [
      '-Xms384m', '-Xmx384m', '-Xss256k', '-XX:+UseSerialGC', '-XX:CICompilerCount=2',
      ...CASSANDRA_JDK17_FLAGS, '-Djava.net.preferIPv4Stack=true', '-Djdk.attach.allowAttachSelf=true',
      ...(jamm ? [`-javaagent:${join(lib, jamm)}`] : []),
      `-Dcassandra.config=file://${dir}/cassandra.yaml`, `-Dcassandra.storagedir=${dir}`, `-Dcassandra.logdir=${dir}/logs`,
      `-Dlogback.configurationFile=${dir}/conf/logback.xml`,
      '-Dcassandra-foreground=yes', `-Dcassandra.jmx.local.port=${n.jmxPort}`, '-Dcom.sun.management.jmxremote.authenticate=false',
      '-Dcassandra.skip_wait_for_gossip_to_settle=0', '-Dcassandra.ring_delay_ms=1000',
      ...jvmFlags,
      '-cp', `${dir}/conf:${lib}/*`,
      'org.apache.cassandra.service.CassandraDaemon',
    ], { stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
}

/** A CQL session once the node serves CQL; throws when it exits first, or after 300 s. */
export async function connectProbeNode(n: ProbeNode, node: ChildProcess): Promise<Client> {
  for (const end = Date.now() + 300_000; Date.now() < end; await new Promise((r) => setTimeout(r, 2000))) {
    if (node.exitCode !== null || node.signalCode !== null) throw new Error(`Cassandra exited (${node.exitCode ?? node.signalCode}) before it served CQL`);
    const c = new Client({ contactPoints: [n.host], localDataCenter: 'datacenter1' });
    try {
      await c.connect();
      return c;
    } catch {
      await c.shutdown().catch(() => undefined);
    }
  }
  throw new Error(`Cassandra on ${n.host} did not serve CQL within 300 s`);
}

/** Kills the node with SIGKILL (nothing flushed, nothing synced after) and waits for it to be gone. */
export async function kill9(node: ChildProcess): Promise<void> {
  if (node.exitCode !== null || node.signalCode !== null) return;
  const gone = new Promise((r) => node.once('exit', r));
  node.kill('SIGKILL');
  await gone;
}

/** nodetool of the node, run from the installed jars (argv; add the command, e.g. 'flush'). */
export function probeNodetool(n: ProbeNode, dir: string): string[] {
  return [
    javaBin(), '-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...CASSANDRA_JDK17_FLAGS, '-Djava.net.preferIPv4Stack=true',
    `-Dlogback.configurationFile=${dir}/conf/logback.xml`, `-Dcassandra.storagedir=${dir}/tools`,
    '-cp', `${sandboxPaths().cassandraLib}/*`, 'org.apache.cassandra.tools.NodeTool', '-h', '127.0.0.1', '-p', String(n.jmxPort),
  ];
}
