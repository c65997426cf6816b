/**
 * The caller-name check reads a certificate's subject alternative names as a list: a CA-signed
 * DNS name holding commas (`x,DNS:coordinator,y`) is one name, not three. Real certificates made
 * with openssl, presented over a real TLS handshake on 127.0.0.1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { certificateNames, parseSubjectAltName, refusal } from '../../agent/rpc/authorize';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import { oddCert } from '../helpers/certs';
import { removeScratch, scratchDir } from '../helpers/scratch';

let dir = '';
test.before(async () => {
  dir = await scratchDir('authorize-san');
  await initCa(dir);
  await issueCert(dir, 'node1', 'agent', ['127.0.0.1']);
  await issueCert(dir, 'coordinator', 'coordinator', []);
});
test.after(() => removeScratch(dir));

/** The peer certificate the agent's side of a TLS handshake sees when the client presents `stem`.crt. */
async function presented(stem: string): Promise<PeerCertificate> {
  const read = (f: string) => readFileSync(join(dir, f));
  const server = createServer({ key: read('node1.key'), cert: read('node1.crt'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true });
  const seen = new Promise<PeerCertificate>((resolve) => server.once('secureConnection', (s) => {
    resolve(s.getPeerCertificate());
    s.end();
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', servername: 'node1', ca: read('ca.crt'), key: read(`${stem}.key`), cert: read(`${stem}.crt`) });
  client.on('error', () => undefined);
  try {
    return await seen;
  } finally {
    client.destroy();
    server.close();
  }
}

test('subjectAltName text is parsed entry by entry, quoted values whole', () => {
  assert.equal(parseSubjectAltName(''), []);
  assert.equal(parseSubjectAltName('DNS:a, DNS:b, IP Address:10.0.0.1'), [
    { type: 'DNS', value: 'a' }, { type: 'DNS', value: 'b' }, { type: 'IP Address', value: '10.0.0.1' },
  ]);
  assert.equal(parseSubjectAltName('DNS:"x,DNS:coordinator,y", DNS:ok'), [{ type: 'DNS', value: 'x,DNS:coordinator,y' }, { type: 'DNS', value: 'ok' }]);
  assert.equal(parseSubjectAltName('DNS:"a\\"b"'), [{ type: 'DNS', value: 'a"b' }]);
  for (const bad of ['DNS:x,DNS:coordinator', 'DNS:"open', 'nocolon', 'DNS:a,, DNS:b', 'DNS:a,DNS:b']) assert.is(parseSubjectAltName(bad), null, bad);
});

test('the coordinator\'s own certificate passes', async () => {
  const cert = await presented('coordinator');
  assert.ok(certificateNames(cert)?.includes('coordinator'));
  assert.is(refusal(cert, 'coordinator'), null);
});

test('a CA-signed client certificate whose DNS name holds commas does not pass as the coordinator', async () => {
  await oddCert(dir, { file: 'comma', name: 'intruder', eku: 'clientAuth', signer: dir, dnsNames: ['x,DNS:coordinator,y'] }, join(dir, 'ca.crt'));
  const cert = await presented('comma');
  assert.equal(certificateNames(cert), ['intruder', 'x,DNS:coordinator,y']);
  const no = refusal(cert, 'coordinator');
  assert.ok(no, 'refused');
  assert.match(no!.details, /names "intruder", "x,DNS:coordinator,y"; this agent accepts only/);
  // The name as signed, commas and all, is what would have to be configured.
  assert.is(refusal(cert, 'x,DNS:coordinator,y'), null);
});

test.run();
