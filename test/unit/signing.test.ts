/**
 * Ed25519 signatures of set files (shared/signing.ts), the fleet's key files (coordinator/signing.ts)
 * and `tandem certs signing`: ids, round trips, every refusal, bounded reads, file modes.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { certsCommand } from '../../coordinator/cli/certs';
import { signingOf } from '../../coordinator/signing';
import { openDestination } from '../../shared/destination';
import {
  checkSignature, generateSigningKeyPair, keyIdOf, KEY_ID, OversizedError, parsePublicKey, parseSigningKey, readCapped, signatureFor,
} from '../../shared/signing';
import { rejects } from '../helpers/assert';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { writeSigningKeySync } from '../helpers/signing';

const root = scratchDirSync('signing');
test.after(() => removeScratch(root));

const key = parseSigningKey(generateSigningKeyPair().privatePem, 'k');
const other = parseSigningKey(generateSigningKeyPair().privatePem, 'o');
const trusted = new Map([[key.keyId, key.publicKey]]);
const body = Buffer.from('{"format":"tandem.backup-set/v3","id":"set-1"}\n');

test('a key id is the first 16 hex digits of the sha256 of the raw 32-byte public key', () => {
  const pair = generateSigningKeyPair();
  const pub = createPublicKey(pair.publicPem);
  const raw = pub.export({ format: 'jwk' }).x!;
  assert.is(pair.keyId, createHash('sha256').update(Buffer.from(raw, 'base64url')).digest('hex').slice(0, 16));
  assert.is(keyIdOf(pub), pair.keyId);
  assert.match(pair.keyId, KEY_ID);
  assert.is(parseSigningKey(pair.privatePem, 'x').keyId, pair.keyId);
});

test('a signature checks for the exact bytes it signed, by a trusted key, for the file it names', () => {
  const sig = Buffer.from(signatureFor(key, 'manifest.json', body));
  assert.equal(checkSignature(sig, 'manifest.json', body, trusted), { ok: true, keyId: key.keyId });
  const changed = Buffer.from(body.toString().replace('set-1', 'set-2'));
  assert.equal(checkSignature(sig, 'manifest.json', changed, trusted), { ok: false, reason: 'bad-signature', detail: 'manifest.json changed after it was signed (sha256 differs)' });
  assert.equal(checkSignature(sig, 'pruned.json', body, trusted).ok, false, 'a manifest signature is no marker signature');
  const foreign = Buffer.from(signatureFor(other, 'manifest.json', body));
  assert.equal(checkSignature(foreign, 'manifest.json', body, trusted), { ok: false, reason: 'unknown-key', detail: `signed by key ${other.keyId}, which signing.trusted does not list` });
  // The right digest with another key's signature under the trusted key's id.
  const forged = JSON.parse(foreign.toString());
  forged.keyId = key.keyId;
  const v = checkSignature(Buffer.from(JSON.stringify(forged)), 'manifest.json', body, trusted);
  assert.equal(v.ok ? '' : v.reason, 'bad-signature');
  for (const bad of ['', 'not json', '{}', JSON.stringify({ ...forged, signature: 'AAAA' }), JSON.stringify({ ...forged, extra: 1 })]) {
    const r = checkSignature(Buffer.from(bad), 'manifest.json', body, trusted);
    assert.equal(r.ok ? '' : r.reason, 'invalid-signature-file', bad);
  }
});

test('key files: a private key must be Ed25519, a trusted one public', () => {
  const ec = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgY0v8h8gq1yXQDXm5\nCU4ZlXZdMTc3N0XJ+Gq1W4vxk+ehRANCAAQ4p2ZQ7jvK0lKjzG4dHkXVfQ0vx3eJ\nQ6o8m6Lh1k2cQn9y8OQ0zWvC6xgQ5l+8mJWvDk3tQG3w9d1vW2j4Y7hB\n-----END PRIVATE KEY-----\n';
  assert.throws(() => parseSigningKey('nonsense', 'signing.key /k'), /signing\.key \/k is not a PEM private key: create one with 'tandem certs signing --dir DIR'/);
  assert.throws(() => parseSigningKey(ec, 'signing.key /k'), /signing\.key \/k (is not a PEM private key|is a ec key, not Ed25519)/);
  const pair = generateSigningKeyPair();
  assert.throws(() => parsePublicKey(pair.privatePem, 'signing.trusted /p'), /holds a private key/);
  assert.is(keyIdOf(parsePublicKey(pair.publicPem, 'p')), pair.keyId);
});

test('reads are capped: a file above its cap is refused before it is read', async () => {
  const dir = join(root, 'capped');
  mkdirSync(join(dir, 's'), { recursive: true });
  writeFileSync(join(dir, 's', 'small'), 'abc');
  writeFileSync(join(dir, 's', 'big'), '');
  truncateSync(join(dir, 's', 'big'), 1 << 30);
  const dest = openDestination({ type: 'local', path: dir });
  assert.is((await readCapped(dest, 's/small', 3))!.toString(), 'abc');
  assert.is(await readCapped(dest, 's/none', 3), null);
  await rejects(() => readCapped(dest, 's/small', 2), /s\/small is 3 bytes, more than the 2 a small may hold: it was not read/);
  const t0 = Date.now();
  const err = await readCapped(dest, 's/big', 4096).catch((e: unknown) => e);
  assert.instance(err, OversizedError);
  assert.ok(Date.now() - t0 < 1000, 'refused without reading a GiB');
});

test("the fleet's signing block: a private key readable by others is refused; its own public key and the listed ones are trusted", () => {
  const dir = join(root, 'fleet-keys');
  const cur = writeSigningKeySync(dir, 'current');
  const old = writeSigningKeySync(dir, 'old');
  const s = signingOf({ signing: { key: cur.key, trusted: [old.pub] } });
  const ids = [s.key.keyId, parseSigningKey(readFileSync(old.key), 'old').keyId];
  assert.equal([...s.trusted.keys()].sort(), ids.sort());
  const loose = writeSigningKeySync(dir, 'loose');
  chmodSync(loose.key, 0o644);
  assert.throws(() => signingOf({ signing: { key: loose.key, trusted: [] } }), /signing\.key .*loose\.key has mode 0644: anyone who reads it can sign sets; run chmod 600/);
  assert.throws(() => signingOf({ signing: { key: join(dir, 'absent.key'), trusted: [] } }), /cannot read signing\.key .*absent\.key: .*tandem certs signing --dir DIR/);
  assert.throws(() => signingOf({ signing: { key: cur.key, trusted: [old.key] } }), /signing\.trusted .*old\.key holds a private key/);
});

test('tandem certs signing writes the key 600 and the public key 644, and refuses to overwrite without --force', async () => {
  const dir = join(root, 'certs');
  assert.is(await certsCommand(['signing', '--dir', dir]), 0);
  assert.is(statSync(join(dir, 'signing.key')).mode & 0o777, 0o600);
  assert.is(statSync(join(dir, 'signing.pub')).mode & 0o777, 0o644);
  const s = signingOf({ signing: { key: join(dir, 'signing.key'), trusted: [join(dir, 'signing.pub')] } });
  assert.equal([...s.trusted.keys()], [s.key.keyId], 'its own public key, once');
  await rejects(() => certsCommand(['signing', '--dir', dir]), /signing\.key exists; use --force to replace it/);
  assert.is(await certsCommand(['signing', '--dir', dir, '--name', 'signing-2027']), 0);
  assert.is(statSync(join(dir, 'signing-2027.key')).mode & 0o777, 0o600);
  await rejects(() => certsCommand(['signing', '--dir', dir, '--name', '../x']), /certs signing: --name/);
});

test.run();
