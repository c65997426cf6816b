/**
 * The elasticsearch role's idle requests (health probe, version) by plain HTTP, against a real
 * HTTP server on 127.0.0.1:0 answering as Elasticsearch does: the answers, the credentials sent,
 * and the messages for what goes wrong.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveEsSettings, esSettings } from '../../agent/roles/elasticsearch/config';
import { esClusterStatus, esNodeVersion } from '../../agent/roles/elasticsearch/probe';
import { elasticsearchRole } from '../../agent/roles/elasticsearch/role';

let answer: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
const seen: { url: string; auth?: string }[] = [];
let server: Server;
let base = '';

test.before(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(() => new Promise<void>((r) => server.close(() => r())));

const json = (status: number, body: unknown) => (_: IncomingMessage, res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const settings = (over: Record<string, unknown> = {}) => resolveEsSettings(esSettings.parse({ url: base, repository: 'tandem', ...over }));

test('health and version from the answers, with the configured credentials, under a path prefix', async () => {
  seen.length = 0;
  answer = (req, res) => json(200, req.url?.includes('_nodes') ? { nodes: { abc: { version: '8.19.2' } } } : { status: 'yellow' })(req, res);
  const s = settings({ url: `${base}/es/`, username: 'tandem', passwordEnv: 'TANDEM_TEST_ES_PW' });
  process.env.TANDEM_TEST_ES_PW = 'pw';
  assert.is(await esClusterStatus(s), 'yellow');
  assert.is(await esNodeVersion(s), '8.19.2');
  assert.equal(seen.map((x) => x.url), ['/es/_cluster/health', '/es/_nodes/_local?filter_path=nodes.*.version']);
  assert.is(seen[0].auth, `Basic ${Buffer.from('tandem:pw').toString('base64')}`);
});

test('the role\'s health: red, refused credentials, not Elasticsearch, unreachable', async () => {
  const role = elasticsearchRole(esSettings.parse({ url: base, repository: 'tandem' }));
  const health = () => role.health!(new AbortController().signal).then(() => 'ok', (e: Error) => e.message);
  answer = json(200, { status: 'green' });
  assert.is(await health(), 'ok');
  answer = json(200, { status: 'red' });
  assert.match(await health(), /answers, but its cluster health is red/);
  answer = json(401, { error: { type: 'security_exception', reason: 'missing authentication credentials' } });
  assert.match(await health(), /refused the credentials \(401\); check username and password/);
  answer = (_, res) => res.writeHead(200).end('<html>proxy</html>');
  assert.match(await health(), /does not look like Elasticsearch/);
  answer = json(503, { error: { type: 'master_not_discovered_exception', reason: 'no master' } });
  assert.match(await health(), /master_not_discovered_exception: no master/);
  const gone = elasticsearchRole(esSettings.parse({ url: 'http://127.0.0.1:1', repository: 'tandem' }));
  assert.match(await gone.health!(new AbortController().signal).then(() => 'ok', (e: Error) => e.message), /is unreachable \(.*ECONNREFUSED.*\); check the url setting/);
  assert.equal(await gone.versions(), {});
});

test('a probe that does not answer in time, or is aborted, ends', async () => {
  answer = () => undefined; // never answers
  const slow = settings({ requestTimeoutMs: 500 });
  await esClusterStatus(slow).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /did not answer in time \(500 ms\)/));
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('probe timed out')), 50);
  await esClusterStatus(settings(), ac.signal).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /probe timed out/));
  server.closeAllConnections();
});

test.run();
