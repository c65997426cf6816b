/**
 * An agent loads the large client libraries (the AWS SDK, @elastic/elasticsearch,
 * cassandra-driver, prom-client) only when a step needs them: a child process that loads the
 * agent's modules, makes every production role and lets each answer its health probe and
 * versions, against services that are not there, has none of them loaded. (A files role on an
 * S3 store probes its bucket, and so loads the AWS SDK: that host needs it.)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const DIST = join(__dirname, '..', '..');
const HEAVY = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@elastic/elasticsearch', 'cassandra-driver', 'prom-client'];

const SCRIPT = `
const { createRoles, PRODUCTION_ROLES } = require(${JSON.stringify(join(DIST, 'agent/roles/registry.js'))});
require(${JSON.stringify(join(DIST, 'agent/daemon.js'))});
require(${JSON.stringify(join(DIST, 'agent/serve.js'))});
const { agentConfigSchema } = require(${JSON.stringify(join(DIST, 'agent/config.js'))});
const config = agentConfigSchema().parse({
  node: 'n1', listen: '127.0.0.1:0',
  roles: {
    cassandra: { cql: { host: '127.0.0.1', port: 1 }, jmx: { host: '127.0.0.1', port: 1 }, java: '/nonexistent/java' },
    elasticsearch: { url: 'http://127.0.0.1:1', repository: 'tandem' },
    files: { store: 'localfs', location: '/nonexistent' },
  },
});
(async () => {
  const roles = createRoles(PRODUCTION_ROLES, config.roles, undefined, { stateDir: null });
  for (const r of roles) {
    await r.versions().catch(() => undefined);
    if (r.health) await r.health(AbortSignal.timeout(3000)).catch(() => undefined);
  }
  const loaded = new Set();
  for (const f of Object.keys(require.cache)) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f); if (m) loaded.add(m[1]); }
  console.log(JSON.stringify([...loaded]));
  process.exit(0);
})();
`;

test('an idle agent with every production role has loaded none of the large client libraries', () => {
  const r = spawnSync(process.execPath, ['-e', SCRIPT], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as string[];
  assert.ok(loaded.includes('@grpc/grpc-js') || loaded.includes('zod'), `the probe saw modules at all: ${loaded.join(' ')}`);
  assert.equal(HEAVY.filter((m) => loaded.includes(m)), [], `loaded at idle: ${loaded.join(' ')}`);
});

test.run();
