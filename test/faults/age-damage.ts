/**
 * Damage to a stored age file (c2sp.org/age), as a destination could do it: the payload cut short
 * by its last chunk, one payload byte flipped, or the whole file replaced by a valid age file of
 * the same size to another recipient. The header is found by its MAC line; nothing else of the
 * format is assumed beyond the payload's 16-byte nonce and its 64 KiB chunks with a 16-byte tag.
 */
import { encrypt, formatIdentityFile, generateIdentity } from '../../shared/age';
import { SEALED_CHUNK_SIZE } from '../../shared/age/stream';

/** The age payload's nonce, before the first chunk. */
const NONCE_SIZE = 16;
/** The AEAD tag each payload chunk carries. */
const TAG_SIZE = 16;

/** Where an age file's payload nonce starts: after the header's MAC line (`--- …\n`). */
export function payloadAt(age: Buffer): number {
  const mac = age.indexOf('\n--- ');
  const end = mac < 0 ? -1 : age.indexOf('\n', mac + 1);
  if (end < 0) throw new Error('the stored file is not an age file: no header MAC line');
  return end + 1;
}

/** The file without its last payload chunk: a transfer cut short. */
export function lastChunkCut(o: Buffer): Buffer {
  const chunks = o.length - payloadAt(o) - NONCE_SIZE;
  return o.subarray(0, payloadAt(o) + NONCE_SIZE + (Math.ceil(chunks / SEALED_CHUNK_SIZE) - 1) * SEALED_CHUNK_SIZE);
}

/** One byte flipped halfway through the payload's chunks (the header and nonce left as they are). */
export function oneByteFlipped(o: Buffer): Buffer {
  const from = payloadAt(o) + NONCE_SIZE;
  const b = Buffer.from(o);
  b[from + ((o.length - from) >> 1)] ^= 0x01;
  return b;
}

/**
 * A valid age file of the same size (one X25519 stanza, as the original) to a recipient nobody
 * of the fleet holds: its plaintext is the planted marker, repeated.
 */
export function forAnotherRecipient(o: Buffer, planted: Buffer): Buffer {
  const payload = o.length - payloadAt(o) - NONCE_SIZE;
  const plain = Math.max(0, payload - Math.max(1, Math.ceil(payload / SEALED_CHUNK_SIZE)) * TAG_SIZE);
  return encrypt([generateIdentity().recipient], Buffer.alloc(plain, planted));
}

/** A set key of another fleet: a fresh identity file, sealed to a recipient nobody of this fleet holds. */
export const anotherFleetsSetKey = (): Buffer => encrypt([generateIdentity().recipient], Buffer.from(formatIdentityFile(generateIdentity())));
