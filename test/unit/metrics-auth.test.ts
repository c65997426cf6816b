/**
 * /metrics over TLS checks its caller as the gRPC port does: a certificate of the fleet's CA is
 * not enough, it must be issued for clientAuth and carry an accepted name. Real certificates
 * (tandem's own and openssl-made odd ones), a real HTTPS server on 127.0.0.1:0.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { createAgentMetrics, serveMetrics } from '../../agent/metrics';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import { oddCert } from '../helpers/certs';
import { removeScratch, scratchDir } from '../helpers/scratch';

let dir = '';
const servers: Server[] = [];
test.before(async () => {
  dir = await scratchDir('metrics-auth');
  await initCa(dir);
  await issueCert(dir, 'n1', 'agent', ['127.0.0.1']);
  await issueCert(dir, 'coordinator', 'coordinator', []);
  const ca = join(dir, 'ca.crt');
  await oddCert(dir, { file: 'no-eku', name: 'coordinator', eku: null, signer: dir }, ca);
  await oddCert(dir, { file: 'prometheus', name: 'prometheus', eku: 'clientAuth', signer: dir }, ca);
  await oddCert(dir, { file: 'comma', name: 'intruder', eku: 'clientAuth', signer: dir, dnsNames: ['x,DNS:coordinator,y'] }, ca);
});
test.after(() => {
  for (const s of servers) s.close();
  removeScratch(dir);
});

/** Starts /metrics over TLS accepting `callerNames`; returns its port. */
async function start(callerNames: string[]): Promise<number> {
  const { registry } = createAgentMetrics('n1');
  const tls = { ca: join(dir, 'ca.crt'), cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key') };
  const { server, port } = await serveMetrics('127.0.0.1:0', registry, { ...tls, callerNames });
  servers.push(server);
  return port;
}

/** GET /metrics presenting `stem`.crt (or no certificate); the status and body, or the handshake's error. */
function get(port: number, stem: string | null): Promise<{ status: number; body: string } | string> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1', port, path: '/metrics', servername: 'n1', ca: readFileSync(join(dir, 'ca.crt')), agent: false,
      ...(stem ? { cert: readFileSync(join(dir, `${stem}.crt`)), key: readFileSync(join(dir, `${stem}.key`)) } : {}),
    }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

test('the coordinator\'s certificate reads /metrics; others of the same CA are refused with 403 saying why', async () => {
  const port = await start(['coordinator']);
  const ok = await get(port, 'coordinator');
  assert.ok(typeof ok === 'object' && ok.status === 200 && ok.body.includes('tandem_agent_backups_total'), JSON.stringify(ok).slice(0, 200));
  const noEku = await get(port, 'no-eku');
  assert.ok(typeof noEku === 'object' && noEku.status === 403 && /not issued for clientAuth/.test(noEku.body), JSON.stringify(noEku));
  const other = await get(port, 'prometheus');
  assert.ok(typeof other === 'object' && other.status === 403 && /names "prometheus"/.test(other.body), JSON.stringify(other));
  const comma = await get(port, 'comma');
  assert.ok(typeof comma === 'object' && comma.status === 403, JSON.stringify(comma));
  // An agent's certificate (serverAuth only) and no certificate at all do not get metrics either.
  for (const stem of ['n1', null]) {
    const r = await get(port, stem);
    assert.ok(typeof r === 'string' || r.status !== 200, `${stem}: ${JSON.stringify(r).slice(0, 200)}`);
  }
});

test('metrics.callerNames lets a scraper of its own name in', async () => {
  const port = await start(['prometheus']);
  const ok = await get(port, 'prometheus');
  assert.ok(typeof ok === 'object' && ok.status === 200, JSON.stringify(ok).slice(0, 200));
  const coord = await get(port, 'coordinator');
  assert.ok(typeof coord === 'object' && coord.status === 403, 'the coordinator is not among the names');
});

test.run();
