/** The sandbox's three stores as a test fleet deploys them: Cassandra on every node, Elasticsearch and the files on node1. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cassandraRoleSettings, type SandboxEnv } from '../sandbox';
import type { WriterStores } from '../sandbox/writer';

/**
 * Roles of a fleet over the sandbox's three nodes; `repository` is the Elasticsearch snapshot
 * repository the fleet uses; `stores`, scratch stores in place of the sandbox's own (a test that
 * wipes what it restores must not wipe what other tests read).
 */
export function threeStoreRoles(env: SandboxEnv, repository = 'tandem-test', stores?: WriterStores) {
  return env.cassandra.nodes.map((n, i) => ({
    node: n.name,
    roles: {
      cassandra: { ...cassandraRoleSettings(env, n), ...(stores ? { keyspace: stores.keyspace } : {}) },
      ...(i === 0
        ? {
            elasticsearch: { url: env.elasticsearch.url, repository, repositoryLocation: join(env.elasticsearch.pathRepo, repository), allowYellow: true, ...(stores ? { indexPatterns: [stores.index] } : {}) },
            // Tests restore into scratch folders under the OS temp folder: the agent must allow them.
            files: { store: 'localfs', location: stores?.filesDir ?? env.files.dir, restoreTargets: [stores?.filesDir ?? env.files.dir, tmpdir()] },
          }
        : {}),
    },
  }));
}
