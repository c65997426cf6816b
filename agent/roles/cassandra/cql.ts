/**
 * The CQL side of the cassandra role: replication of the keyspace, its schema (server-side
 * DESCRIBE, Cassandra 4.0+) and the ring's token map, through cassandra-driver.
 */
import type * as CassandraDriver from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { lazyModule } from '../../../shared/lazy-module';
import type { CassandraSettings } from './config';
import { Nodetool, type RingNode } from './nodetool';

/** cassandra-driver, loaded when the role first opens a CQL session (about 18 MB). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const cassandraDriver = lazyModule(() => require('cassandra-driver') as typeof CassandraDriver);

const dcCache = new WeakMap<CassandraSettings, string>();
const ringSources = new WeakMap<CassandraSettings, () => Promise<RingNode[]>>();

/** Where localDataCenter() reads the ring for a role's settings: its helper JVM, rather than a nodetool JVM. */
export function useRingSource(s: CassandraSettings, ring: () => Promise<RingNode[]>): void {
  ringSources.set(s, ring);
}

/** This node's datacenter: the setting, else what the ring says (asked once per agent). */
export async function localDataCenter(s: CassandraSettings): Promise<string> {
  if (s.cql.localDataCenter) return s.cql.localDataCenter;
  const cached = dcCache.get(s);
  if (cached) return cached;
  const ring = await (ringSources.get(s) ?? (() => new Nodetool(s.nodetool).status()))();
  const dc = ring.find((n) => n.address === s.cql.host)?.datacenter ?? 'datacenter1';
  dcCache.set(s, dc);
  return dc;
}

/** Opens a short-lived session to this node; the datacenter defaults to localDataCenter(). */
export async function withSession<T>(s: CassandraSettings, fn: (c: Client) => Promise<T>, dataCenter?: string): Promise<T> {
  const localDc = dataCenter ?? (await localDataCenter(s));
  const password = s.cql.passwordEnv ? process.env[s.cql.passwordEnv] ?? '' : '';
  const { Client, auth, policies } = cassandraDriver();
  const client = new Client({
    contactPoints: [`${s.cql.host}:${s.cql.port}`],
    localDataCenter: localDc,
    authProvider: s.cql.username ? new auth.PlainTextAuthProvider(s.cql.username, password) : undefined,
    socketOptions: { connectTimeout: 10_000, readTimeout: 60_000 },
    // Every statement goes to this one node, so a CREATE TABLE never reaches a node that has not
    // seen its keyspace yet: the schema steps wait for agreement once, at their end
    // (waitForAgreement), instead of the driver waiting after each statement.
    protocolOptions: { maxSchemaAgreementWaitSeconds: 0 },
    isMetadataSyncEnabled: false,
    // Only this node: the agent speaks for its own host.
    policies: {
      loadBalancing: new policies.loadBalancing.AllowListPolicy(
        new policies.loadBalancing.DCAwareRoundRobinPolicy(localDc),
        [`${s.cql.host}:${s.cql.port}`],
      ),
    },
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.shutdown();
  }
}

/** The keyspace's replication map, or null when the keyspace does not exist. */
export async function replication(c: Client, keyspace: string): Promise<Record<string, string> | null> {
  const r = await c.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true });
  return r.rowLength ? (r.first().replication as Record<string, string>) : null;
}

/** Replicas per datacenter for a replication map (SimpleStrategy counts for every datacenter). */
export function replicasPerDc(rep: Record<string, string>, dcs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const simple = /SimpleStrategy$/.test(rep.class ?? '');
  for (const dc of dcs) out[dc] = Number(simple ? rep.replication_factor : rep[dc] ?? 0);
  return out;
}

/** The keyspace's schema as CQL statements (DESCRIBE KEYSPACE, run by the server). */
export async function describeKeyspace(c: Client, keyspace: string): Promise<string> {
  const r = await c.execute(`DESCRIBE KEYSPACE "${keyspace}"`);
  return r.rows.map((row) => String(row.create_statement)).join('\n\n') + '\n';
}

/** The ring: every node's address, datacenter, rack, host id and tokens. */
export type Ring = { address: string; datacenter: string; rack: string; hostId: string; tokens: string[] }[];

/** Reads the ring from system.local and system.peers. */
export async function ringMap(c: Client): Promise<Ring> {
  const local = await c.execute('SELECT broadcast_address, data_center, rack, host_id, tokens FROM system.local');
  const peers = await c.execute('SELECT peer, data_center, rack, host_id, tokens FROM system.peers');
  const row = (addr: unknown, r: { data_center: string; rack: string; host_id: unknown; tokens: string[] | null }) => ({
    address: String(addr),
    datacenter: r.data_center,
    rack: r.rack,
    hostId: String(r.host_id),
    tokens: [...(r.tokens ?? [])].sort(),
  });
  return [
    ...local.rows.map((r) => row(r.broadcast_address, r as never)),
    ...peers.rows.map((r) => row(r.peer, r as never)),
  ].sort((a, b) => a.address.localeCompare(b.address));
}
