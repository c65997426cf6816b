/**
 * shared/age: round trips through the stream Transforms and the buffer helpers at the chunk
 * boundaries, and every tampering refused with its typed error (truncation, a flipped byte, a
 * wrong identity, an altered header MAC), plus the key encodings and key files.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AgeHeaderError,
  AgeHeaderMacError,
  AgeKeyError,
  AgeNoMatchError,
  AgePayloadError,
  CHUNK_SIZE,
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  formatIdentityFile,
  generateIdentity,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  parseRecipientsFile,
  X25519Identity,
} from '../../shared/age';

const alice = generateIdentity();
const bob = generateIdentity();

/** Pipes `input` (fed in pieces of `piece` bytes) through `transform` and collects the output. */
async function through(transform: NodeJS.ReadWriteStream, input: Buffer, piece = 7919): Promise<Buffer> {
  const parts: Buffer[] = [];
  function* pieces() {
    for (let i = 0; i < input.length; i += piece) yield input.subarray(i, i + piece);
  }
  await pipeline(Readable.from(pieces()), transform, new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  return Buffer.concat(parts);
}

/** The error the decrypting stream fails with, and the plaintext it released before. */
async function refusal(file: Buffer, identities = [alice]): Promise<{ error: unknown; released: number }> {
  const parts: Buffer[] = [];
  try {
    await pipeline(Readable.from([file]), decryptStream(identities), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  } catch (error) {
    return { error, released: Buffer.concat(parts).length };
  }
  return { error: null, released: Buffer.concat(parts).length };
}

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 12345];
const overhead = (size: number) => 16 + 16 * Math.max(1, Math.ceil(size / CHUNK_SIZE));

for (const size of SIZES) {
  test(`round trip of ${size} bytes: stream and buffer, any piece size`, async () => {
    const plain = randomBytes(size);
    const file = await through(encryptStream([alice.recipient, bob.recipient.toString()]), plain, 1000);
    const header = file.indexOf('\n---');
    assert.is(file.length - (file.indexOf(0x0a, header + 1) + 1), size + overhead(size), 'payload size: nonce, chunks, one tag each');
    // A byte at a time is slow past one chunk; the multi-chunk case has its own test below.
    if (size <= CHUNK_SIZE + 1) assert.ok((await through(decryptStream([alice]), file, 1)).equals(plain), 'a byte at a time');
    assert.ok((await through(decryptStream([bob]), file, 65552)).equals(plain), 'a sealed chunk at a time');
    assert.ok((await through(decryptStream([alice]), file, 1 << 20)).equals(plain), 'large pieces');
    assert.ok(decrypt([bob.toString()], encrypt([alice.recipient, bob.recipient], plain)).equals(plain), 'buffer helpers');
  });
}

test('a byte at a time through a multi-chunk file', async () => {
  const plain = randomBytes(2 * CHUNK_SIZE + 3);
  const file = encrypt([alice.recipient], plain);
  assert.ok((await through(decryptStream([alice]), file, 1)).equals(plain));
});

test('truncation anywhere is refused: in the header, in the nonce, at a chunk boundary, inside a chunk', async () => {
  const plain = randomBytes(2 * CHUNK_SIZE + 100);
  const file = encrypt([alice.recipient], plain);
  const headerEnd = file.indexOf(0x0a, file.indexOf('\n---') + 1) + 1;
  for (const cut of [10, headerEnd - 1, headerEnd, headerEnd + 8]) {
    const { error } = await refusal(file.subarray(0, cut));
    assert.instance(error, AgeHeaderError, `cut at ${cut}`);
  }
  for (const cut of [headerEnd + 16, headerEnd + 16 + 65552, headerEnd + 16 + 2 * 65552, file.length - 1, headerEnd + 100]) {
    const { error } = await refusal(file.subarray(0, cut));
    assert.instance(error, AgePayloadError, `cut at ${cut}`);
  }
  assert.throws(() => decrypt([alice], file.subarray(0, file.length - 1)), (e: unknown) => e instanceof AgePayloadError);
});

test('a flipped byte in the payload is refused after the chunks before it were released', async () => {
  const file = encrypt([alice.recipient], randomBytes(3 * CHUNK_SIZE));
  const headerEnd = file.indexOf(0x0a, file.indexOf('\n---') + 1) + 1;
  for (const at of [headerEnd + 3, headerEnd + 16 + 65552 + 5, file.length - 1]) {
    const bad = Buffer.from(file);
    bad[at] ^= 0x01;
    const { error, released } = await refusal(bad);
    assert.instance(error, AgePayloadError, `flip at ${at}`);
    assert.is(released % CHUNK_SIZE, 0, 'only whole authenticated chunks were released');
  }
});

test('bytes after the last chunk are refused', async () => {
  const file = encrypt([alice.recipient], randomBytes(100));
  assert.instance((await refusal(Buffer.concat([file, Buffer.from([0])]))).error, AgePayloadError);
  const full = encrypt([alice.recipient], randomBytes(CHUNK_SIZE));
  assert.instance((await refusal(Buffer.concat([full, randomBytes(20)]))).error, AgePayloadError);
});

test('a wrong identity finds no match; the right one among several works', async () => {
  const file = encrypt([alice.recipient], Buffer.from('secret'));
  const { error } = await refusal(file, [bob]);
  assert.instance(error, AgeNoMatchError);
  assert.ok(!String((error as Error).message).includes(bob.toString()), 'the message never quotes a secret key');
  assert.is(decrypt([bob, alice], file).toString(), 'secret');
});

test('an altered header (MAC, stanza, version, grease) is refused with the right error', async () => {
  const file = encrypt([alice.recipient], Buffer.from('payload'));
  const text = file.toString('latin1');
  const macAt = text.indexOf('\n--- ') + 5;
  const badMac = Buffer.from(file);
  badMac[macAt + 2] = badMac[macAt + 2] === 0x41 ? 0x42 : 0x41;
  assert.instance((await refusal(badMac)).error, AgeHeaderMacError);
  // An extra stanza the identity ignores still changes what the MAC covers.
  const grease = Buffer.from(text.replace('\n--- ', '\n-> grease x\nAAAA\n--- '), 'latin1');
  assert.instance((await refusal(grease)).error, AgeHeaderMacError);
  assert.instance((await refusal(Buffer.from(text.replace('v1', 'v2'), 'latin1'))).error, AgeHeaderError);
  assert.instance((await refusal(Buffer.from(text.replace('-> X25519', '->  X25519'), 'latin1'))).error, AgeHeaderError);
  assert.instance((await refusal(Buffer.from(text.replace('\n---', '=\n---'), 'latin1'))).error, AgeHeaderError, 'padded base64');
  assert.instance((await refusal(Buffer.from('PK\x03\x04 not an age file at all'))).error, AgeHeaderError);
});

test('a header longer than maxHeaderBytes is refused without reading on', async () => {
  const long = Buffer.from(`age-encryption.org/v1\n-> X25519 ${'A'.repeat(5000)}\n`, 'latin1');
  const parts: Buffer[] = [];
  let error: unknown = null;
  try {
    await pipeline(Readable.from([long, long, long]), decryptStream([alice], { maxHeaderBytes: 4096 }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  } catch (e) {
    error = e;
  }
  assert.instance(error, AgeHeaderError);
  assert.is(parts.length, 0, 'nothing released');
  assert.throws(() => decryptStream([alice], { maxHeaderBytes: 0 }), (e: unknown) => e instanceof RangeError);
});

test('keys: the spec\'s examples, round trips, and what is refused', () => {
  // From c2sp.org/age, "The X25519 recipient type".
  const id = parseIdentity('AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX');
  assert.is(id.recipient.toString(), 'age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj');
  assert.is(parseRecipient(alice.recipient.toString()).toString(), alice.recipient.toString());
  assert.is(parseIdentity(alice.toString()).recipient.toString(), alice.recipient.toString());
  assert.ok(alice.toString().startsWith('AGE-SECRET-KEY-1'));
  assert.throws(() => parseRecipient('age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwk'), (e: unknown) => e instanceof AgeKeyError, 'bad checksum');
  assert.throws(() => parseRecipient('Age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj'), (e: unknown) => e instanceof AgeKeyError, 'mixed case');
  assert.throws(() => parseRecipient(alice.toString()), (e: unknown) => e instanceof AgeKeyError, 'an identity is not a recipient');
  assert.throws(() => parseIdentity(alice.recipient.toString()), (e: unknown) => e instanceof AgeKeyError, 'a recipient is not an identity');
  assert.throws(() => parseIdentity(alice.toString().toLowerCase()), (e: unknown) => e instanceof AgeKeyError, 'lower-case identity');
  assert.throws(() => encrypt([], Buffer.alloc(1)), (e: unknown) => e instanceof AgeKeyError);
  assert.throws(() => decryptStream([]), (e: unknown) => e instanceof AgeKeyError);
  const err = (() => { try { parseIdentity(`${alice.toString()}x`); } catch (e) { return e as Error; } return null; })();
  assert.ok(err && !err.message.includes(alice.toString().slice(20)), 'a refused identity is never quoted');
});

test('key files: age-keygen\'s layout with comments, CRLF, several keys; errors name the line', () => {
  const file = formatIdentityFile(alice, new Date('2026-01-02T03:04:05Z'));
  assert.ok(file.startsWith('# created: 2026-01-02T03:04:05Z\n# public key: age1'));
  const ids = parseIdentityFile(`${file}\r\n# another\r\n${bob.toString()}\r\n`);
  assert.equal(ids.map((i) => i.recipient.toString()), [alice.recipient.toString(), bob.recipient.toString()]);
  assert.ok(ids[0] instanceof X25519Identity);
  assert.throws(() => parseIdentityFile('# only a comment\n\n'), (e: unknown) => e instanceof AgeKeyError);
  assert.throws(() => parseIdentityFile(`${file}AGE-SECRET-KEY-1NOTAKEY\n`), (e: Error) => e instanceof AgeKeyError && e.message.includes('line 4'));
  assert.equal(parseRecipientsFile(`# team\n${alice.recipient}\n\n${bob.recipient}\n`).length, 2);
  assert.throws(() => parseRecipientsFile('age1qqqq\n'), (e: unknown) => e instanceof AgeKeyError);
});

test.run();
