/**
 * Mutual TLS: agents accept only the coordinator, a certificate of the fleet's CA issued for
 * clientAuth under the name of the agent's tls.coordinatorName; the coordinator accepts only the
 * agent the fleet file names. The health service alone answers any clientAuth certificate of the
 * fleet CA, and refuses every other caller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from '../helpers/assert';
import { healthClient } from '../helpers/health-client';
import { HOSTILE_CALLERS, tryHostileCaller } from '../faults/hostile-callers';
import { openFleet } from '../../coordinator/fleet';
import { AGENT_MAIN, freePort, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { signingBlock } from '../helpers/signing';

let f: TestFleet;
test.before(async () => {
  f = await makeFleet([{ node: 'n1' }, { node: 'n2' }]);
  await startFleet(f);
});
test.after(async () => removeFleet(f));

const entry = () => ({ node: 'n1', address: `127.0.0.1:${f.agents[0].port}`, roles: ['rehearsal' as const] });

test('the coordinator certificate is accepted', async () => {
  const [h] = openFleet([entry()], { ca: join(f.pki, 'ca.crt'), cert: join(f.pki, 'coordinator.crt'), key: join(f.pki, 'coordinator.key') });
  try {
    assert.is((await h.describe(3000)).node, 'n1');
  } finally {
    h.close();
  }
});

// Every caller that is not the coordinator (plaintext, self-signed, another CA, expired, no
// extended key usage, an agent's certificate, clientAuth under another name) tries every RPC.
for (const caller of HOSTILE_CALLERS) {
  test(`${caller.name} is refused and changes nothing`, async () => {
    assert.equal(await tryHostileCaller(f, caller), []);
  });
}

// The health service answers any clientAuth certificate of the fleet CA, whatever its name, and
// refuses every other caller as the agent service does.
for (const caller of HOSTILE_CALLERS) {
  test(`the health service: ${caller.name} gets ${caller.health === 'SERVING' ? 'an answer' : 'refused'}`, async () => {
    const c = healthClient(`127.0.0.1:${f.agents[0].port}`, 'n1', await caller.tls(f));
    try {
      const got = await c.check('', 3000).catch((err: Error) => err.message);
      if (caller.health === 'SERVING') assert.is(got, 'SERVING');
      else assert.match(got, caller.health ?? caller.code);
    } finally {
      c.close();
    }
  });
}

test('the agent must be the node the fleet file names', async () => {
  // n2's address given under n1's name: the certificate says n2, so the coordinator refuses it
  // for its name, not for any other reason a channel can fail.
  const [h] = openFleet([{ ...entry(), address: `127.0.0.1:${f.agents[1].port}` }], { ca: join(f.pki, 'ca.crt'), cert: join(f.pki, 'coordinator.crt'), key: join(f.pki, 'coordinator.key') });
  try {
    await rejects(() => h.describe(3000), /UNAVAILABLE.*(n1.*(not in the cert|altnames|does not match)|(not in the cert|altnames|does not match).*n1)/is);
  } finally {
    h.close();
  }
});

test('the CLI refuses plaintext unless --insecure, and --insecure only on loopback', async () => {
  const plain = join(f.dir, 'plain');
  await mkdir(plain, { recursive: true });
  const port = await freePort();
  const agentConfig = join(plain, 'agent.yaml');
  await writeFile(agentConfig, JSON.stringify({ node: 'p1', listen: `127.0.0.1:${port}`, stateDir: join(plain, 'state'), roles: { rehearsal: { markerDir: join(plain, 'markers') } } }));
  const fleetFile = join(plain, 'fleet.yaml');
  const fleet = { stateDir: join(plain, 'coordinator'), agents: [{ node: 'p1', address: `127.0.0.1:${port}`, roles: ['rehearsal'] }], destination: { type: 'local', path: join(plain, 'dest') }, signing: signingBlock(f.signing) };
  await writeFile(fleetFile, JSON.stringify(fleet));
  // The agent too: no TLS without --insecure, and --insecure never on an address others reach.
  const noFlag = await runNode([AGENT_MAIN, '--config', agentConfig]);
  assert.is.not(noFlag.code, 0);
  assert.match(noFlag.stderr + noFlag.stdout, /tls is required/);
  const wideConfig = join(plain, 'wide.yaml');
  await writeFile(wideConfig, JSON.stringify({ node: 'p1', listen: `0.0.0.0:${port}`, stateDir: join(plain, 'state'), roles: { rehearsal: { markerDir: join(plain, 'markers') } } }));
  const wide = await runNode([AGENT_MAIN, '--config', wideConfig, '--insecure']);
  assert.is.not(wide.code, 0);
  assert.match(wide.stderr + wide.stdout, /insecure mode listens only on loopback, not 0\.0\.0\.0/);

  const agent = spawn(process.execPath, [AGENT_MAIN, '--config', agentConfig, '--insecure'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForLine(agent, '"agent ready"');
    const refused = await runCli(['agents', '--config', fleetFile]);
    assert.is(refused.code, 2);
    assert.match(refused.stderr, /tls is required \(ca, cert, key\); use --insecure only for loopback/);
    const ok = await runCli(['agents', '--config', fleetFile, '--insecure', '--json']);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /"p1"/);
    // The same agent under an address that is not loopback: refused before any connection.
    await writeFile(fleetFile, JSON.stringify({ ...fleet, agents: [{ ...fleet.agents[0], address: `192.0.2.1:${port}` }] }));
    const remote = await runCli(['agents', '--config', fleetFile, '--insecure']);
    assert.is.not(remote.code, 0);
    assert.match(remote.stderr, /insecure mode reaches only loopback agents, not 192\.0\.2\.1/);
  } finally {
    agent.kill('SIGKILL');
  }
});

function runNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Resolves when the child prints a line holding `text`; rejects if it exits first. */
function waitForLine(child: ChildProcess, text: string): Promise<void> {
  return new Promise((done, fail) => {
    let seen = '';
    const look = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) done();
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.once('exit', (code) => fail(new Error(`agent exited (${code}) before "${text}": ${seen}`)));
  });
}

test.run();
