/** The sandbox's three stores as a test fleet deploys them: Cassandra on every node, Elasticsearch and the files on node1. */
import { join } from 'node:path';
import { cassandraRoleSettings, type SandboxEnv } from '../sandbox';

/** Roles of a fleet over the sandbox's three nodes; `repository` is the Elasticsearch snapshot repository the fleet uses. */
export function threeStoreRoles(env: SandboxEnv, repository = 'tandem-test') {
  return env.cassandra.nodes.map((n, i) => ({
    node: n.name,
    roles: {
      cassandra: cassandraRoleSettings(env, n),
      ...(i === 0
        ? {
            elasticsearch: { url: env.elasticsearch.url, repository, repositoryLocation: join(env.elasticsearch.pathRepo, repository), allowYellow: true },
            files: { store: 'localfs', location: env.files.dir },
          }
        : {}),
    },
  }));
}
