/**
 * The age test kit (C2SP/CCTV age/testdata, copied into fixtures/age-testkit/ with its licence):
 * every vector decrypted with shared/age, its outcome checked against the vector's `expect` and
 * the SHA-256 of the plaintext released (all of it on success, what authenticated before the
 * error on a payload failure). Vectors needing what shared/age leaves out are skipped, each by
 * name and counted by uvu: ASCII armor, scrypt passphrases, ML-KEM (post-quantum) identities.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgeHeaderError, AgeHeaderMacError, AgeNoMatchError, AgePayloadError, decrypt, generateIdentity } from '../../shared/age';

// Tests run from dist/test/unit; the fixtures stay beside the sources.
const FIXTURES = [join(__dirname, 'fixtures', 'age-testkit'), join(__dirname, '..', '..', '..', 'test', 'unit', 'fixtures', 'age-testkit')].find(existsSync)!;

interface Vector {
  name: string;
  fields: Map<string, string[]>;
  file: Buffer;
}

function readVector(name: string): Vector {
  const raw = readFileSync(join(FIXTURES, name));
  const split = raw.indexOf('\n\n');
  const fields = new Map<string, string[]>();
  for (const line of raw.toString('latin1', 0, split).split('\n')) {
    const colon = line.indexOf(': ');
    const key = line.slice(0, colon);
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 2)]);
  }
  const body = raw.subarray(split + 2);
  return { name, fields, file: fields.get('compressed')?.[0] === 'zlib' ? inflateSync(body) : body };
}

/** Why a vector is out of scope, or null when it runs. */
function outOfScope(v: Vector): string | null {
  if (v.fields.get('armored')?.[0] === 'yes') return 'ASCII armor';
  if (v.fields.has('passphrase')) return 'scrypt passphrase';
  if ((v.fields.get('identity') ?? []).some((i) => i.startsWith('AGE-SECRET-KEY-PQ-'))) return 'ML-KEM-768 + X25519 identity';
  return null;
}

const EXPECTED_ERROR: Record<string, Function> = {
  'header failure': AgeHeaderError,
  'no match': AgeNoMatchError,
  'HMAC failure': AgeHeaderMacError,
  'payload failure': AgePayloadError,
};

const sha256 = (parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

const names = readdirSync(FIXTURES).filter((n) => n !== 'LICENSE').sort();
const skipped = new Map<string, string[]>();
let ran = 0;

for (const name of names) {
  const v = readVector(name);
  const reason = outOfScope(v);
  if (reason) {
    skipped.set(reason, [...(skipped.get(reason) ?? []), name]);
    test.skip(`${name} (out of scope: ${reason})`, () => {});
    continue;
  }
  ran++;
  const expect = v.fields.get('expect')![0];
  test(`${name}: ${expect}`, () => {
    const released: Buffer[] = [];
    let error: unknown = null;
    try {
      // A vector without an identity (the empty file) fails before any key is used: any identity will do.
      decrypt(v.fields.get('identity') ?? [generateIdentity()], v.file, { released: (b) => released.push(b) });
    } catch (err) {
      error = err;
    }
    if (expect === 'success') {
      assert.is(error, null, `decryption failed: ${(error as Error)?.message}`);
    } else {
      const type = EXPECTED_ERROR[expect];
      assert.ok(type, `unknown expectation "${expect}"`);
      assert.ok(error instanceof type, `expected ${type.name}, got ${error === null ? 'success' : `${(error as Error).name}: ${(error as Error).message}`}`);
    }
    if (v.fields.has('payload')) assert.is(sha256(released), v.fields.get('payload')![0], 'SHA-256 of the plaintext released');
    else if (expect !== 'success' && expect !== 'payload failure') assert.is(released.length, 0, 'no plaintext before a header failure');
  });
}

test('the test kit is all there and only out-of-scope vectors are skipped', () => {
  assert.is(names.length, 143, 'vectors in fixtures/age-testkit');
  for (const [reason, list] of skipped) console.log(`  age test kit: skipped ${list.length} (${reason}): ${list.join(' ')}`);
  console.log(`  age test kit: ran ${ran}, skipped ${names.length - ran}`);
  assert.equal(Object.fromEntries([...skipped].map(([r, l]) => [r, l.length])), { 'ASCII armor': 33, 'ML-KEM-768 + X25519 identity': 18, 'scrypt passphrase': 25 });
  assert.is(ran, 67);
});

test.run();
