/**
 * An encrypted file store capture stores no path and no content in clear, opens with a
 * recipient's identity alone; and its settings: off by default, a destination and the agent's
 * tls needed when enabled, a folder store only.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentConfigSchema } from '../../agent/config';
import { writablePaths } from '../../agent/systemd';
import { startFilesCapture } from '../../agent/roles/files/capture';
import type { FilesSettings } from '../../agent/roles/files/config';
import { generateIdentity } from '../../shared/age';
import { CaptureKeys } from '../../shared/capture/capture-key';
import { openDestination } from '../../shared/destination';
import { captureJournalPath } from '../../shared/destination/layout';
import { silentLogger } from '../../shared/log';
import { makeCaptureCerts, type CaptureCerts } from '../helpers/capture-certs';
import { failure } from '../helpers/capture-node';
import { filesCaptureNode } from '../helpers/files-capture-node';
import { filesUnder } from '../helpers/files-under';

let certs: CaptureCerts;
test.before(async () => {
  certs = await makeCaptureCerts();
  await certs.signing('files1');
});

const operator = generateIdentity();

test('an encrypted capture stores no path or content in clear, and opens with a recipient\'s identity', async () => {
  const n = filesCaptureNode(certs, { recipients: [operator.recipient.toString()] });
  const c = n.capture();
  n.write('case-4711/evidence-name.txt', 'the attachment content in clear');
  await c.look();
  const t1 = n.clock.t;
  n.clock.t += 1000;
  n.write('case-4711/evidence-name.txt', 'changed attachment content');
  await c.look();
  n.clock.t += 1000;
  unlinkSync(join(n.dirs.store, 'case-4711/evidence-name.txt'));
  await c.look();
  for (const f of await filesUnder(n.dirs.dest)) {
    const body = readFileSync(f);
    for (const clear of ['evidence-name', 'case-4711', 'attachment content']) assert.not.ok(body.includes(clear), `${f} holds ${clear} in clear`);
    if (f.includes('/objects/')) assert.ok(f.endsWith('.age') && body.subarray(0, 21).toString() === 'age-encryption.org/v1', f);
  }
  const lines = readFileSync(join(n.dirs.dest, captureJournalPath('thehive', 'files1', 1)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.map((l) => [l.kind, l.path, typeof l.sealed, typeof l.key]), [['put', undefined, 'string', 'string'], ['put', undefined, 'string', 'string'], ['remove', undefined, 'string', 'string']]);
  const reader = n.reader(new CaptureKeys(n.dest, [operator]));
  const state = await reader.filesAt(t1);
  assert.equal([...state.keys()], ['case-4711/evidence-name.txt']);
  await reader.copyTo(state, n.dirs.out);
  assert.is(readFileSync(join(n.dirs.out, 'case-4711/evidence-name.txt'), 'utf8'), 'the attachment content in clear');
  assert.equal((await reader.filesAt(n.clock.t)).size, 0);
  assert.match(await failure(n.reader().filesAt(t1)), /is encrypted: give the identity/);
  assert.match(await failure(n.reader(new CaptureKeys(n.dest, [generateIdentity()])).filesAt(t1)), /does not open with the identity given/);
  // The agent keeps the data key's recipient, never an identity.
  for (const f of await filesUnder(n.dirs.state)) assert.not.match(readFileSync(f, 'utf8'), /AGE-SECRET-KEY-1/, f);
});

const tls = { ca: '/etc/tandem/ca.crt', cert: '/etc/tandem/files1.crt', key: '/etc/tandem/files1.key' };
const destination = { type: 'local', path: '/srv/backups' };

test('the capture is off by default, needs a destination without S3 keys and the agent\'s tls, and takes a folder store only', () => {
  const parse = (files: unknown, withTls = true) => agentConfigSchema().safeParse({ node: 'files1', listen: '127.0.0.1:0', ...(withTls ? { tls } : {}), roles: { files: files } });
  const off = parse({ store: 'localfs', location: '/opt/thp/thehive/files' });
  assert.ok(off.success);
  assert.is(startFilesCapture(off.data!.roles.files as FilesSettings, { node: 'files1', stateDir: '/nonexistent', tls, open: () => { throw new Error('not opened'); }, log: silentLogger() }), null);
  const on = parse({ store: 'localfs', capture: { enabled: true, destination } });
  assert.ok(on.success);
  const c = (on.data!.roles.files as Extract<FilesSettings, { store: 'localfs' }>).capture!;
  assert.equal([c.enabled, c.intervalMs, c.cluster], [true, 10_000, 'thehive']);
  assert.match(JSON.stringify(parse({ store: 'localfs', capture: { enabled: true } }).error?.issues), /capture.enabled needs capture.destination/);
  assert.match(JSON.stringify(parse({ store: 'localfs', capture: { enabled: true, destination } }, false).error?.issues), /roles.files.capture signs what it stores/);
  assert.match(JSON.stringify(parse({ store: 'localfs', capture: { enabled: true, destination: { type: 's3', endpoint: 'https://s3.example.net', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's' } } }).error?.issues), /takes no S3 keys/);
  assert.not.ok(parse({ store: 's3', bucket: 'thehive', capture: { enabled: true, destination } }).success, 'a bucket store has no capture');
  assert.not.ok(parse({ store: 'localfs', capture: { intervalMs: 10 } }).success);
  const local = parse({ store: 'localfs', location: '/srv/files', capture: { enabled: true, destination: { type: 'local', path: '/srv/capture' } } });
  assert.ok(writablePaths(local.data!).some((p) => p.path === '/srv/capture'), 'a local destination of the capture is in the systemd drop-in');
  assert.not.ok(parse({ store: 'localfs', capture: { recipients: ['ssh-ed25519 AAAA'] } }).success);
});

test('startFilesCapture starts a capture woken by a change of the folder, not only by its interval', async () => {
  const n = filesCaptureNode(certs);
  const signing = await certs.signing('files1');
  const settings = agentConfigSchema().parse({ node: 'files1', listen: '127.0.0.1:0', tls, roles: { files: { store: 'localfs', location: n.dirs.store, capture: { enabled: true, intervalMs: 600_000, destination: { type: 'local', path: n.dirs.dest } } } } }).roles.files as FilesSettings;
  const capture = startFilesCapture(settings, { node: 'files1', stateDir: n.dirs.state, tls: signing, open: openDestination, log: silentLogger() })!;
  try {
    await new Promise((r) => setTimeout(r, 500));
    n.write('aa/new-attachment', 'written after the first look');
    // The periodic look is 10 minutes away: only the watcher can have woken it.
    const journal = join(n.dirs.dest, captureJournalPath('thehive', 'files1', 1));
    for (const end = Date.now() + 15_000; Date.now() < end && !existsSync(journal); ) await new Promise((r) => setTimeout(r, 200));
    assert.match(readFileSync(journal, 'utf8'), /"path":"aa\/new-attachment"/);
  } finally {
    await capture.stop();
  }
});

test.run();
