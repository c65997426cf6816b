/**
 * The damage the encryption fault cases do to a stored age file (test/faults/age-damage.ts), on
 * files of one, several and exactly whole chunks: cut by its last chunk, one payload byte
 * flipped (same size), replaced by an age file of the same size to another recipient; each
 * refused by shared/age with the error a restore would meet.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgeNoMatchError, AgePayloadError, CHUNK_SIZE, decrypt, encrypt, generateIdentity } from '../../shared/age';
import { anotherFleetsSetKey, forAnotherRecipient, lastChunkCut, oneByteFlipped, payloadAt } from '../faults/age-damage';

const identity = generateIdentity();
const planted = Buffer.from('PLANTED-0123456789abcdef');
const SIZES = [0, 1, 1000, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17];

for (const size of SIZES) {
  const plain = randomBytes(size);
  const stored = encrypt([identity.recipient], plain);

  test(`${size} bytes: the payload starts after the header's MAC line`, () => {
    assert.is(stored.subarray(0, payloadAt(stored)).toString('latin1').split('\n').at(-2)!.slice(0, 4), '--- ');
    assert.equal(decrypt([identity], stored), plain);
  });

  test(`${size} bytes: cut by its last chunk, shorter, and refused`, () => {
    const cut = lastChunkCut(stored);
    assert.ok(cut.length < stored.length && cut.length >= payloadAt(stored) + 16, `${cut.length} of ${stored.length}`);
    assert.throws(() => decrypt([identity], cut), (e: unknown) => e instanceof AgePayloadError);
  });

  test(`${size} bytes: one payload byte flipped, same size, refused`, () => {
    const flipped = oneByteFlipped(stored);
    assert.is(flipped.length, stored.length);
    assert.is(flipped.subarray(0, payloadAt(stored) + 16).compare(stored.subarray(0, payloadAt(stored) + 16)), 0, 'header and nonce kept');
    assert.throws(() => decrypt([identity], flipped), (e: unknown) => e instanceof AgePayloadError);
  });

  test(`${size} bytes: replaced by an age file of the same size to another recipient, which the identity does not open`, () => {
    const other = forAnotherRecipient(stored, planted);
    assert.is(other.length, stored.length);
    assert.not.equal(other, stored);
    assert.throws(() => decrypt([identity], other), (e: unknown) => e instanceof AgeNoMatchError);
  });
}

test('another fleet\'s set key is a valid age file the identity does not open', () => {
  assert.throws(() => decrypt([identity], anotherFleetsSetKey()), (e: unknown) => e instanceof AgeNoMatchError);
});

test.run();
