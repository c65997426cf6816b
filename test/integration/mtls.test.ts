/** Mutual TLS: agents refuse any caller without a certificate from the fleet's CA for clientAuth. */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from '../helpers/assert';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import { openFleet } from '../../coordinator/fleet';
import { makeFleet, runCli, startFleet, stopFleet, type TestFleet } from '../helpers/fleet';

let f: TestFleet;
test.before(async () => {
  f = await makeFleet([{ node: 'n1' }, { node: 'n2' }]);
  await startFleet(f);
});
test.after(async () => stopFleet(f));

const entry = () => ({ node: 'n1', address: `127.0.0.1:${f.agents[0].port}`, roles: ['rehearsal' as const] });

test('the coordinator certificate is accepted', async () => {
  const [h] = openFleet([entry()], { ca: join(f.pki, 'ca.crt'), cert: join(f.pki, 'coordinator.crt'), key: join(f.pki, 'coordinator.key') });
  try {
    assert.is((await h.describe(3000)).node, 'n1');
  } finally {
    h.close();
  }
});

test('a certificate from another CA is refused', async () => {
  const other = join(f.dir, 'other-pki');
  await (await import('node:fs/promises')).mkdir(other);
  await initCa(other);
  await issueCert(other, 'coordinator', 'coordinator', []);
  const [h] = openFleet([entry()], { ca: join(f.pki, 'ca.crt'), cert: join(other, 'coordinator.crt'), key: join(other, 'coordinator.key') });
  try {
    await rejects(() => h.describe(3000), /UNAVAILABLE|handshake|certificate/i);
  } finally {
    h.close();
  }
});

test('an agent certificate cannot drive another agent', async () => {
  const [h] = openFleet([entry()], { ca: join(f.pki, 'ca.crt'), cert: join(f.pki, 'n2.crt'), key: join(f.pki, 'n2.key') });
  try {
    await rejects(() => h.describe(3000), /UNAVAILABLE|certificate/i);
  } finally {
    h.close();
  }
});

test('a plaintext caller is refused', async () => {
  const [h] = openFleet([entry()], undefined);
  try {
    await rejects(() => h.describe(3000), /UNAVAILABLE/);
  } finally {
    h.close();
  }
});

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
