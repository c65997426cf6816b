/** The capture's settings (off by default, a destination required, no S3 keys), the drop-in's paths, and the capture woken by a change of cdc_raw. */
import { linkSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentConfigSchema } from '../../agent/config';
import { startCapture } from '../../agent/roles/cassandra/capture';
import type { CassandraSettings } from '../../agent/roles/cassandra/config';
import { writablePaths } from '../../agent/systemd';
import { openDestination, parseDestinationConfig } from '../../shared/destination';
import { captureSegmentFolder } from '../../shared/destination/layout';
import { silentLogger } from '../../shared/log';
import { makeCaptureCerts } from '../helpers/capture-certs';
import { scratchDirSync } from '../helpers/scratch';

const tls = { ca: '/etc/tandem/ca.crt', cert: '/etc/tandem/cass1.crt', key: '/etc/tandem/cass1.key' };
const base = { node: 'cass1', listen: '127.0.0.1:0', tls };
const parse = (capture: unknown) => agentConfigSchema().safeParse({ ...base, roles: { cassandra: { capture } } });

test('the capture is off by default and needs a destination when enabled', () => {
  const off = agentConfigSchema().parse({ ...base, roles: { cassandra: {} } });
  const c = (off.roles.cassandra as CassandraSettings).capture;
  assert.equal([c.enabled, c.cdcRawDirectory, c.captureIntervalMs, c.cluster], [false, '/var/lib/cassandra/cdc_raw', 10_000, 'thehive']);
  const r = parse({ enabled: true });
  assert.not.ok(r.success);
  assert.match(JSON.stringify(r.error!.issues), /capture.enabled needs capture.destination/);
  assert.ok(parse({ enabled: true, destination: { type: 'local', path: '/srv/backups' } }).success);
  assert.not.ok(parse({ captureIntervalMs: 10 }).success);
  assert.not.ok(parse({ cluster: 'the/hive' }).success);
});

test('an enabled capture needs the agent\'s tls files (it signs with them), and recipients must be age1… keys', () => {
  const destination = { type: 'local', path: '/srv/backups' };
  const r = agentConfigSchema().safeParse({ node: 'cass1', listen: '127.0.0.1:0', roles: { cassandra: { capture: { enabled: true, destination } } } });
  assert.not.ok(r.success);
  assert.match(JSON.stringify(r.error!.issues), /signs what it stores with the agent's TLS key/);
  assert.ok(agentConfigSchema().safeParse({ node: 'cass1', listen: '127.0.0.1:0', roles: { cassandra: { capture: { enabled: false } } } }).success);
  const bad = parse({ enabled: true, destination, recipients: ['ssh-ed25519 AAAA'] });
  assert.not.ok(bad.success);
  assert.match(JSON.stringify(bad.error!.issues), /recipient/);
  assert.not.ok(parse({ enabled: true, destination, recipients: [] }).success);
});

test('capture.destination takes no S3 keys: the agent reads its own', () => {
  const r = parse({ enabled: true, destination: { type: 's3', endpoint: 'https://s3.example.net', bucket: 'backups', accessKeyId: 'a', secretAccessKey: 'b' } });
  assert.not.ok(r.success);
  assert.match(JSON.stringify(r.error!.issues), /destinationCredentials/);
});

test('an enabled capture opens cdc_raw and its local destination in the systemd drop-in; a disabled one does not', () => {
  const on = agentConfigSchema().parse({ ...base, roles: { cassandra: { capture: { enabled: true, cdcRawDirectory: '/data/cdc_raw', destination: { type: 'local', path: '/srv/pitr' } } } } });
  const paths = writablePaths(on).map((p) => p.path);
  assert.ok(paths.includes('/data/cdc_raw') && paths.includes('/srv/pitr'), paths.join(' '));
  const off = agentConfigSchema().parse({ ...base, roles: { cassandra: { capture: { cdcRawDirectory: '/data/cdc_raw' } } } });
  assert.not.ok(writablePaths(off).some((p) => p.path === '/data/cdc_raw'));
});

test('startCapture starts nothing unless enabled, and a started capture is woken by a change of cdc_raw', async () => {
  const root = scratchDirSync('capture-watch');
  const [cdcRaw, commitlog, state, dest] = ['cdc_raw', 'commitlog', 'state', 'dest'].map((d) => join(root, d));
  for (const d of [cdcRaw, commitlog, state, dest]) mkdirSync(d);
  const open = (d: Parameters<typeof openDestination>[0]) => openDestination(d);
  const certs = await makeCaptureCerts();
  const signing = await certs.signing('cass1');
  const metrics = { captured: () => undefined, gaps: () => undefined };
  const settings = (enabled: boolean) => agentConfigSchema().parse({ ...base, roles: { cassandra: { capture: { enabled, cdcRawDirectory: cdcRaw, captureIntervalMs: 600_000, destination: parseDestinationConfig({ type: 'local', path: dest }) } } } }).roles.cassandra as CassandraSettings;
  assert.is(startCapture(settings(false), { node: 'cass1', stateDir: state, tls: signing, open, log: silentLogger(), metrics }), null);
  const capture = startCapture(settings(true), { node: 'cass1', stateDir: state, tls: signing, open, log: silentLogger(), metrics })!;
  try {
    await new Promise((r) => setTimeout(r, 500));
    const name = 'CommitLog-8-42.log';
    writeFileSync(join(commitlog, name), randomBytes(4096));
    linkSync(join(commitlog, name), join(cdcRaw, name));
    writeFileSync(join(cdcRaw, 'CommitLog-8-42_cdc.idx'), '1024\n');
    // The periodic look is 10 minutes away: only the watcher can have woken it.
    const folder = join(dest, captureSegmentFolder('thehive', 'cass1', name));
    let pieces: string[] = [];
    for (const end = Date.now() + 15_000; Date.now() < end && !pieces.length; await new Promise((r) => setTimeout(r, 200))) {
      try {
        pieces = readdirSync(folder).filter((f) => f.endsWith('.part'));
      } catch {
        // not there yet
      }
    }
    assert.equal(pieces, ['0000000000-0000001024.part']);
  } finally {
    await capture.stop();
  }
});

test.run();
