/**
 * Clients for the sandbox's services and TheHive's schema, shared by seed and the hot writer.
 */
import { Client as EsClient } from '@elastic/elasticsearch';
import { Client as CqlClient, ExecutionProfile, policies, types } from 'cassandra-driver';
import { CASSANDRA_NODES, ES_URL } from './paths';

export const KEYSPACE = 'thehive';
export const ES_INDEX = 'thehive_global';
export const ES_ALIAS = 'thehive';

/** JanusGraph's tables in the keyspace, all of one shape. */
export const JANUS_TABLES = [
  'edgestore', 'edgestore_lock_', 'graphindex', 'graphindex_lock_', 'janusgraph_ids',
  'system_properties', 'system_properties_lock_', 'systemlog', 'txlog',
] as const;

/** A client of the sandbox's nodes; `onlyHost` sends every statement to that one node. */
export function cqlClient(opts: { schemaAgreementWaitSeconds?: number; onlyHost?: string } = {}): CqlClient {
  const only = opts.onlyHost;
  return new CqlClient({
    contactPoints: only ? [only] : CASSANDRA_NODES.map((n) => n.host),
    ...(only ? { policies: { loadBalancing: new policies.loadBalancing.AllowListPolicy(new policies.loadBalancing.DCAwareRoundRobinPolicy('datacenter1'), [`${only}:9042`]) } } : {}),
    localDataCenter: 'datacenter1',
    protocolOptions: { port: 9042, maxSchemaAgreementWaitSeconds: opts.schemaAgreementWaitSeconds ?? 10 },
    queryOptions: { consistency: types.consistencies.localQuorum, prepare: true },
    pooling: { coreConnectionsPerHost: { [types.distance.local]: 1 } },
    socketOptions: { readTimeout: 60_000 },
    // 'all' for the seed: every replica has a row before the flush, so the three nodes' snapshots agree.
    profiles: [new ExecutionProfile('all', { consistency: types.consistencies.all })],
  });
}

export function esClient(): EsClient {
  return new EsClient({ node: ES_URL, requestTimeout: 120_000 });
}

/** The keyspace and tables as JanusGraph's CQL backend creates them (key/column1/value blobs). */
export async function ensureSchema(cql: CqlClient, keyspace: string = KEYSPACE): Promise<void> {
  const existing = new Set(
    (await cql.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace]))
      .rows.map((r) => String(r['table_name'])),
  );
  if (JANUS_TABLES.every((t) => existing.has(t))) return;
  // The driver waits for schema agreement after every DDL statement (seconds each on three nodes):
  // issue them all from a client that does not wait, then wait for agreement once. All go to one
  // node, which knows the keyspace it has just created: another could refuse the tables' CREATE
  // before the keyspace reached it.
  const ddl = cqlClient({ schemaAgreementWaitSeconds: 0, onlyHost: CASSANDRA_NODES[0].host });
  try {
    await ddl.connect();
    await ddl.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3} AND durable_writes = true`,
    );
    await waitForSchemaAgreement(ddl);
    for (const t of JANUS_TABLES.filter((x) => !existing.has(x))) {
      await ddl.execute(
        `CREATE TABLE IF NOT EXISTS ${keyspace}.${t} (key blob, column1 blob, value blob, PRIMARY KEY (key, column1))
         WITH CLUSTERING ORDER BY (column1 ASC)
         AND compaction = {'class': 'SizeTieredCompactionStrategy'}
         AND compression = {'chunk_length_in_kb': '64', 'class': 'LZ4Compressor'}`,
      );
    }
    await waitForSchemaAgreement(ddl);
  } finally {
    await ddl.shutdown();
  }
}

/** Polls the driver's schema-agreement check (present in the driver, missing from its typings). */
async function waitForSchemaAgreement(cql: CqlClient, timeoutMs = 60_000): Promise<void> {
  const meta = cql.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> };
  const deadline = Date.now() + timeoutMs;
  while (!(await meta.checkSchemaAgreement())) {
    if (Date.now() > deadline) throw new Error('Cassandra schema agreement not reached');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** thehive_global (1 shard, 0 replicas, so a single node is green) with the alias thehive; a scratch index gets no alias. */
export async function ensureIndex(es: EsClient, index: string = ES_INDEX): Promise<void> {
  if (await es.indices.exists({ index })) return;
  await es.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: {
      properties: {
        _label: { type: 'keyword' },
        title: { type: 'text' },
        description: { type: 'text' },
        tags: { type: 'keyword' },
        _createdAt: { type: 'date' },
        seq: { type: 'long' },
        payload: { type: 'binary' },
      },
    },
    aliases: index === ES_INDEX ? { [ES_ALIAS]: {} } : {},
  });
}
