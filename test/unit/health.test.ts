/**
 * The agent's gRPC health service, standalone: a real agent server on 127.0.0.1:0 with mutual TLS
 * (certificates made by `tandem certs`' code), one role whose dependency is a probe function the
 * test turns on and off, and a real grpc.health.v1.Health client (Check and Watch).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentConfigSchema } from '../../agent/config';
import { rolePlugin } from '../../agent/roles/plugin';
import { serveAgent, type RunningAgent } from '../../agent/serve';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import { openFleet } from '../../coordinator/fleet';
import { silentLogger } from '../../shared/log';
import { healthClient, type HealthClient, type HealthStatus } from '../helpers/health-client';
import { rehearsalRole, rehearsalSettings } from '../helpers/rehearsal-role';
import { scratchDir } from '../helpers/scratch';

const PLUGINS = [rolePlugin({ name: 'rehearsal', settings: rehearsalSettings, create: rehearsalRole })];

/** The dependency the role probes: up, down, or hanging (answers never, ignores the deadline). */
let dependency: 'up' | 'down' | 'hang' = 'up';
let probes = 0;

let dir: string;
let agent: RunningAgent;
const tlsOf = (name: string) => ({ ca: join(dir, 'ca.crt'), cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
const clients: HealthClient[] = [];
const client = (name = 'health-probe') => {
  const c = healthClient(`127.0.0.1:${agent.port}`, 'n1', tlsOf(name));
  clients.push(c);
  return c;
};

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await ok()) return;
  assert.unreachable(`${what} within ${ms} ms`);
}

test.before(async () => {
  dir = await scratchDir('health');
  await initCa(dir);
  await issueCert(dir, 'n1', 'agent', ['127.0.0.1']);
  await issueCert(dir, 'coordinator', 'coordinator', []);
  // A clientAuth certificate under another name, as a load balancer's probe would hold.
  await issueCert(dir, 'health-probe', 'coordinator', []);
  const config = agentConfigSchema(PLUGINS).parse({
    node: 'n1',
    listen: '127.0.0.1:0',
    tls: tlsOf('n1'),
    stateDir: join(dir, 'state'),
    health: { intervalSeconds: 1, timeoutSeconds: 0.3 },
    roles: { rehearsal: { markerDir: join(dir, 'markers') } },
  });
  const base = rehearsalRole(rehearsalSettings.parse({ markerDir: join(dir, 'markers') }));
  const role = {
    ...base,
    async health() {
      probes++;
      if (dependency === 'down') throw new Error('the rehearsal store is unreachable');
      if (dependency === 'hang') await new Promise<never>(() => undefined);
    },
  };
  agent = await serveAgent(config, [role], silentLogger());
});

test.after(async () => {
  clients.forEach((c) => c.close());
  await agent?.stop(1000);
});

test('Check: SERVING for the agent and its role while the probe answers; an unknown name is NOT_FOUND', async () => {
  const c = client();
  await until('SERVING', async () => (await c.check('')) === 'SERVING');
  assert.is(await c.check('tandem.rehearsal'), 'SERVING');
  try {
    await c.check('tandem.cassandra');
    assert.unreachable('a role the agent does not have is answered');
  } catch (err) {
    assert.match((err as Error).message, /NOT_FOUND/);
  }
});

test('the health service takes any clientAuth certificate of the fleet; the agent service still only the coordinator', async () => {
  assert.is(await client('coordinator').check(''), 'SERVING');
  assert.is(await client('health-probe').check(''), 'SERVING');
  // The agent's own certificate is for serverAuth only: refused (by TLS itself), health or not.
  try {
    await client('n1').check('', 2000);
    assert.unreachable('an agent certificate got an answer');
  } catch (err) {
    assert.match((err as Error).message, /UNAVAILABLE|PERMISSION_DENIED.*clientAuth/, (err as Error).message);
  }
  const [h] = openFleet([{ node: 'n1', address: `127.0.0.1:${agent.port}`, roles: ['rehearsal'] }], tlsOf('health-probe'));
  try {
    await h.describe(3000);
    assert.unreachable('the probe certificate may call Describe');
  } catch (err) {
    assert.match((err as Error).message, /PERMISSION_DENIED.*"health-probe".*tls\.coordinatorName/);
  } finally {
    h.close();
  }
});

test('Watch: SERVING, then NOT_SERVING after the probe fails, then SERVING again; only changes are sent', async () => {
  const c = client();
  await until('SERVING', async () => (await c.check('')) === 'SERVING');
  const role = c.watch('tandem.rehearsal');
  const overall = c.watch('');
  await until('the first status', () => role.seen.length > 0 && overall.seen.length > 0);
  dependency = 'down';
  await until('NOT_SERVING', () => role.seen.includes('NOT_SERVING') && overall.seen.includes('NOT_SERVING'));
  assert.is(await c.check('tandem.rehearsal'), 'NOT_SERVING');
  assert.is(await c.check(''), 'NOT_SERVING');
  // Rounds go on every second: a status that stays is not sent again.
  await sleep(1500);
  dependency = 'up';
  await until('SERVING again', () => role.seen.at(-1) === 'SERVING' && overall.seen.at(-1) === 'SERVING');
  const expected: HealthStatus[] = ['SERVING', 'NOT_SERVING', 'SERVING'];
  assert.equal(role.seen, expected);
  assert.equal(overall.seen, expected);
  role.stop();
  overall.stop();
});

test('a probe that hangs: NOT_SERVING at its deadline, and no second probe while it is in flight', async () => {
  const c = client();
  await until('SERVING', async () => (await c.check('')) === 'SERVING');
  dependency = 'hang';
  const before = probes;
  await until('NOT_SERVING at the deadline', async () => (await c.check('tandem.rehearsal')) === 'NOT_SERVING', 3000);
  await sleep(2500);
  // Three rounds passed; the hanging probe still holds the role's slot.
  assert.is(probes - before, 1);
  assert.is(await c.check(''), 'NOT_SERVING');
});

test('stopping the agent ends open Watch streams at once, with NOT_SERVING last', async () => {
  const c = client();
  const w = c.watch('');
  await until('the first status', () => w.seen.length > 0);
  const started = Date.now();
  await agent.stop(5000);
  const status = await w.ended;
  assert.ok(Date.now() - started < 2000, `stop took ${Date.now() - started} ms: a Watch stream held the server open`);
  assert.is(w.seen.at(-1), 'NOT_SERVING');
  assert.is(status?.code, 0);
});

test.run();
