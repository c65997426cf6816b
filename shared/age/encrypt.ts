/** Encrypting to age: a stream Transform for pipelines and a helper for buffers. */
import { randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { AgeKeyError } from './errors';
import { encodeHeader } from './header';
import { parseRecipient } from './keys';
import { PayloadEncryptor } from './stream';
import { X25519Recipient } from './x25519';

/** A recipient as an object or as its age1… text. */
export type RecipientInput = X25519Recipient | string;

/** The header and payload encryptor of a new file: a fresh file key wrapped for every recipient. */
function startFile(recipients: readonly RecipientInput[]): { header: Buffer; payload: PayloadEncryptor } {
  if (!Array.isArray(recipients) || recipients.length === 0) throw new AgeKeyError('no recipient given: encrypting needs at least one age1… public key');
  const parsed = recipients.map((r) => (r instanceof X25519Recipient ? r : parseRecipient(r)));
  const fileKey = randomBytes(16);
  const header = encodeHeader(parsed.map((r) => r.wrap(fileKey)), fileKey);
  const payload = new PayloadEncryptor(fileKey);
  fileKey.fill(0);
  return { header, payload };
}

/**
 * A Transform from plaintext to an age file for `recipients` (any one of their identities opens
 * it). Holds at most one 64 KiB chunk beyond the piece being written; works with stream.pipeline.
 */
export function encryptStream(recipients: readonly RecipientInput[]): Transform {
  const { header, payload } = startFile(recipients);
  const out = (t: Transform) => (b: Buffer) => void t.push(b);
  return new Transform({
    construct(callback) {
      this.push(header);
      this.push(payload.nonce);
      callback();
    },
    transform(chunk: Buffer, _encoding, callback) {
      payload.write(chunk, out(this));
      callback();
    },
    flush(callback) {
      payload.end(out(this));
      callback();
    },
  });
}

/** The age file of `plaintext` for `recipients`, in one buffer. */
export function encrypt(recipients: readonly RecipientInput[], plaintext: Uint8Array): Buffer {
  const { header, payload } = startFile(recipients);
  const parts: Buffer[] = [header, payload.nonce];
  payload.write(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength), (b) => parts.push(b));
  payload.end((b) => parts.push(b));
  return Buffer.concat(parts);
}
