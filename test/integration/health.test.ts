/**
 * The agent's gRPC health service against the sandbox's real Cassandra, Elasticsearch and file
 * folder: grpc.health.v1.Health (Check and Watch, through grpc-health-check's definition) says
 * SERVING for an agent whose three dependencies answer, and NOT_SERVING for one whose Cassandra
 * JMX port, Elasticsearch URL and attachments folder lead nowhere.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issueCert } from '../../coordinator/cli/certs';
import { makeFleet, removeFleet, startFleet, unusedPort, type TestFleet } from '../helpers/fleet';
import { healthClient, type HealthClient, type HealthStatus } from '../helpers/health-client';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { threeStoreRoles } from '../helpers/sandbox-roles';

const env = sandboxEnvOrNull();
let f: TestFleet | undefined;
const clients: HealthClient[] = [];

test.after(async () => {
  clients.forEach((c) => c.close());
  if (f) await removeFleet(f);
});

/** The health client of one agent of the fleet, with a clientAuth certificate that is not the coordinator's. */
function clientOf(fleet: TestFleet, node: string): HealthClient {
  const a = fleet.agents.find((x) => x.node === node)!;
  const c = healthClient(`127.0.0.1:${a.port}`, node, { ca: join(fleet.pki, 'ca.crt'), cert: join(fleet.pki, 'health-probe.crt'), key: join(fleet.pki, 'health-probe.key') });
  clients.push(c);
  return c;
}

/** Waits until every name has the status (the first round of probes runs at start, the helper JVM may still be starting). */
async function until(c: HealthClient, want: Record<string, HealthStatus>, ms = 60_000): Promise<void> {
  let last: Record<string, string> = {};
  for (const end = Date.now() + ms; Date.now() < end; await sleep(500)) {
    last = Object.fromEntries(await Promise.all(Object.keys(want).map(async (n) => [n, await c.check(n).catch((err: Error) => err.message)])));
    if (Object.entries(want).every(([n, s]) => last[n] === s)) return;
  }
  assert.equal(last, want, `health within ${ms / 1000} s`);
}

test('SERVING for an agent whose Cassandra, Elasticsearch and files answer; NOT_SERVING for one whose dependencies are unreachable', async () => {
  needSandbox(env);
  const [healthy] = threeStoreRoles(env);
  const nowhere = await unusedPort();
  const fast = { intervalSeconds: 1, timeoutSeconds: 5 };
  f = await makeFleet([
    { node: healthy.node, roles: healthy.roles, health: fast },
    {
      // Cassandra's settings of a real node but a JMX port where nothing listens (a node stopped
      // for good looks the same to the probe: its port refuses connections).
      node: 'unreachable',
      roles: {
        cassandra: { ...healthy.roles.cassandra, jmx: { host: '127.0.0.1', port: nowhere } },
        elasticsearch: { ...healthy.roles.elasticsearch, url: `http://127.0.0.1:${nowhere}` },
        files: { store: 'localfs', location: '/nonexistent/tandem-health-files' },
      },
      health: fast,
    },
  ]);
  await issueCert(f.pki, 'health-probe', 'coordinator', []);
  await startFleet(f);

  const good = clientOf(f, healthy.node);
  await until(good, { '': 'SERVING', 'tandem.cassandra': 'SERVING', 'tandem.elasticsearch': 'SERVING', 'tandem.files': 'SERVING' });
  const watch = good.watch('');
  for (let i = 0; i < 20 && !watch.seen.length; i++) await sleep(100);
  assert.equal(watch.seen, ['SERVING']);
  watch.stop();

  const bad = clientOf(f, 'unreachable');
  await until(bad, { '': 'NOT_SERVING', 'tandem.cassandra': 'NOT_SERVING', 'tandem.elasticsearch': 'NOT_SERVING', 'tandem.files': 'NOT_SERVING' });
  const agent = f.agents.find((a) => a.node === 'unreachable')!;
  assert.ok(agent.log.some((l) => l.includes('"health changed"') && l.includes('tandem.cassandra') && l.includes(String(nowhere))), 'the agent logs why Cassandra is not serving, naming the JMX port');
});

test.run();
