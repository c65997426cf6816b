/**
 * Mutual TLS: agents accept only the coordinator, a certificate of the fleet's CA issued for
 * clientAuth under the name of the agent's tls.coordinatorName; the coordinator accepts only the
 * agent the fleet file names.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from '../helpers/assert';
import { HOSTILE_CALLERS, tryHostileCaller } from '../faults/hostile-callers';
import { openFleet } from '../../coordinator/fleet';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';

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

test('the agent must be the node the fleet file names', async () => {
  // n2's address given under n1's name: the certificate says n2, so the coordinator refuses it.
  const [h] = openFleet([{ ...entry(), address: `127.0.0.1:${f.agents[1].port}` }], { ca: join(f.pki, 'ca.crt'), cert: join(f.pki, 'coordinator.crt'), key: join(f.pki, 'coordinator.key') });
  try {
    await rejects(() => h.describe(3000), /UNAVAILABLE/);
  } finally {
    h.close();
  }
});

test('the CLI refuses plaintext unless --insecure, and --insecure only on loopback', async () => {
  const r = await runCli(['agents', '--config', join(f.dir, 'nope.yaml')]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /cannot read configuration/);
});

test.run();
