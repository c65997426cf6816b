/**
 * What the capture stores is signed by the agent and, in an encrypted fleet, encrypted to a data
 * key sealed to the fleet's recipients: planted, edited or copied lines are refused by the reader,
 * and the agent keeps nothing that reads its capture back.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assembleSegment } from '../../agent/roles/cassandra/capture';
import { encrypt, formatIdentityFile, generateIdentity } from '../../shared/age';
import { rotateCaptureKeys } from '../../coordinator/keys';
import { destinationTrust } from '../../shared/capture/agent-certs';
import { CaptureKeys } from '../../shared/capture/capture-key';
import { captureCertPath, captureGapsPath, captureIndexPath, captureKeysFolder, capturePiecePath, captureSegmentFolder } from '../../shared/destination/layout';
import { makeCaptureCerts, type CaptureCerts } from '../helpers/capture-certs';
import { captureNode, failure } from '../helpers/capture-node';
import { filesUnder } from '../helpers/files-under';

let certs: CaptureCerts;
let otherCa: CaptureCerts;
test.before(async () => {
  [certs, otherCa] = await Promise.all([makeCaptureCerts(), makeCaptureCerts()]);
  await Promise.all([certs.signing('cass1'), certs.signing('cass2'), otherCa.signing('cass1')]);
});

const operator = generateIdentity();
const recovery = generateIdentity();

test('an encrypted capture stores age files only, and its segment opens with a recipient\'s identity alone', async () => {
  const n = captureNode(certs, [operator.recipient.toString(), recovery.recipient.toString()]);
  const s = n.segment(100);
  n.sync(100, 3000);
  const c = n.capture();
  await c.look();
  n.sync(100, 9000);
  await c.look();
  const pieces = n.stored(s.name);
  assert.equal(pieces, ['0000000000-0000003000.part.age', '0000003000-0000009000.part.age']);
  for (const f of (await filesUnder(n.dirs.dest)).filter((p) => /\.part(\.age)?$/.test(p))) assert.is(readFileSync(f).subarray(0, 21).toString(), 'age-encryption.org/v1', f);
  const lines = readFileSync(join(n.dirs.dest, captureIndexPath('thehive', 'cass1', s.name)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.every((l) => l.sha256 === undefined && typeof l.key === 'string'), 'no digest of clear bytes in an encrypted index');
  for (const who of [operator, recovery]) {
    const bytes = await assembleSegment(n.dest, 'thehive', 'cass1', s.name, { trust: n.reader.trust, keys: new CaptureKeys(n.dest, [who]) });
    assert.ok(bytes.equals(s.content.subarray(0, 9000)));
  }
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)), /is encrypted: give the identity/);
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, { ...n.reader, keys: new CaptureKeys(n.dest, [generateIdentity()]) })), /does not open with the identity given/);
  // The agent keeps the data key's recipient, never an identity.
  for (const f of await filesUnder(n.dirs.state)) assert.not.match(readFileSync(f, 'utf8'), /AGE-SECRET-KEY-1/, f);
});

test('a planted key file or a changed age piece is refused before any byte is returned', async () => {
  const n = captureNode(certs, [operator.recipient.toString()]);
  const s = n.segment(200);
  n.sync(200, 5000);
  await n.capture().look();
  const reader = { trust: n.reader.trust, keys: new CaptureKeys(n.dest, [operator]) };
  const piece = join(n.dirs.dest, capturePiecePath('thehive', 'cass1', s.name, 0, 5000, true));
  const original = readFileSync(piece);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 20] ^= 1;
  writeFileSync(piece, flipped);
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, reader)), /not the age file its index line names/);
  writeFileSync(piece, original);
  // Someone who can write the destination seals a key of their own to the fleet's public recipient.
  const keys = join(n.dirs.dest, captureKeysFolder('thehive', 'cass1'));
  const [keyFile] = readdirSync(keys);
  writeFileSync(join(keys, keyFile), encrypt([operator.recipient], Buffer.from(formatIdentityFile(generateIdentity()))));
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, { trust: n.reader.trust, keys: new CaptureKeys(n.dest, [operator]) })), /does not hold the key its id names/);
});

test('an edited, unsigned or copied index line is refused, and so is a certificate of another CA or node', async () => {
  const n = captureNode(certs);
  const s = n.segment(300);
  n.sync(300, 4000);
  await n.capture().look();
  const index = join(n.dirs.dest, captureIndexPath('thehive', 'cass1', s.name));
  const signed = readFileSync(index, 'utf8');
  assert.ok((await assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)).equals(s.content.subarray(0, 4000)));
  // Planted bytes with a line that names their digest: the signature no longer checks.
  const planted = randomBytes(4000);
  await n.dest.put(capturePiecePath('thehive', 'cass1', s.name, 0, 4000), Readable.from([planted]));
  const line = JSON.parse(signed) as Record<string, unknown>;
  writeFileSync(index, `${JSON.stringify({ ...line, sha256: (await import('node:crypto')).createHash('sha256').update(planted).digest('hex') })}\n`);
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)), /signature does not check/);
  const { cert: _c, sig: _s, ...unsigned } = line;
  writeFileSync(index, `${JSON.stringify(unsigned)}\n`);
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, n.reader)), /is not signed/);
  // The same signed line, certificate and bytes copied into another cluster's or node's place do not check there.
  writeFileSync(index, signed);
  const certFile = readFileSync(join(n.dirs.dest, captureCertPath('thehive', 'cass1', String(line.cert))));
  await n.dest.put(capturePiecePath('thehive', 'cass1', s.name, 0, 4000), Readable.from([s.content.subarray(0, 4000)]));
  for (const [cluster, node, why] of [['otherhive', 'cass1', /signature does not check/], ['thehive', 'cass2', /names "cass1".*not "cass2"/]] as const) {
    await n.dest.writeAtomic(captureIndexPath(cluster, node, s.name), signed);
    await n.dest.writeAtomic(captureCertPath(cluster, node, String(line.cert)), certFile);
    await n.dest.put(capturePiecePath(cluster, node, s.name, 0, 4000), Readable.from([s.content.subarray(0, 4000)]));
    assert.match(await failure(assembleSegment(n.dest, cluster, node, s.name, { trust: certs.trust(n.dest) })), why);
  }
  // A reader trusting another CA refuses the agent's certificate; a certificate of cass2 does not vouch for cass1.
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, { trust: destinationTrust(n.dest, otherCa.ca) })), /not issued by the fleet's CA/);
  const cass2 = new X509Certificate(readFileSync(join(certs.dir, 'cass2.crt')));
  writeFileSync(join(n.dirs.dest, captureCertPath('thehive', 'cass1', String(line.cert))), cass2.toString());
  assert.match(await failure(assembleSegment(n.dest, 'thehive', 'cass1', s.name, { trust: certs.trust(n.dest) })), /not the certificate its name says/);
});

test('a key rotation reseals the capture\'s keys to the new recipients: the removed one opens nothing, no piece is rewritten', async () => {
  const n = captureNode(certs, [operator.recipient.toString()]);
  const s = n.segment(500);
  n.sync(500, 6000);
  await n.capture().look();
  const piecesBefore = n.stored(s.name).map((f) => readFileSync(join(n.dirs.dest, captureSegmentFolder('thehive', 'cass1', s.name), f)));
  const outcomes = await rotateCaptureKeys(n.dest, [recovery.recipient.toString()], [operator]);
  assert.equal(outcomes.map((o) => o.outcome), ['resealed']);
  const open = (who: typeof operator) => assembleSegment(n.dest, 'thehive', 'cass1', s.name, { trust: n.reader.trust, keys: new CaptureKeys(n.dest, [who]) });
  assert.ok((await open(recovery)).equals(s.content.subarray(0, 6000)));
  assert.match(await failure(open(operator)), /does not open with the identity given/);
  assert.equal(n.stored(s.name).map((f) => readFileSync(join(n.dirs.dest, captureSegmentFolder('thehive', 'cass1', s.name), f))), piecesBefore);
  // A planted key file under an id that is not its key's is reported and left alone.
  const planted = join(n.dirs.dest, captureKeysFolder('thehive', 'cass1'), `${'0'.repeat(32)}.age`);
  writeFileSync(planted, encrypt([recovery.recipient], Buffer.from(formatIdentityFile(generateIdentity()))));
  const again = await rotateCaptureKeys(n.dest, [operator.recipient.toString()], [recovery]);
  assert.equal(again.map((o) => o.outcome).sort(), ['failed', 'resealed']);
  assert.match(again.find((o) => o.outcome === 'failed')!.problem!, /does not hold the key its id names/);
});

test('gap lines are signed too', async () => {
  const n = captureNode(certs);
  n.segment(400);
  n.sync(400, 100);
  const c = n.capture();
  await c.look();
  n.segment(410);
  n.sync(410, 100);
  await c.look();
  const gaps = readFileSync(join(n.dirs.dest, captureGapsPath('thehive', 'cass1')), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(gaps.length >= 1 && gaps.every((g) => typeof g.sig === 'string' && typeof g.cert === 'string'));
});

test.run();
