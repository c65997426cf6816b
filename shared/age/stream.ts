/**
 * The age payload (STREAM): a 16-byte nonce, then the plaintext in 64 KiB chunks, each sealed
 * with ChaCha20-Poly1305 under HKDF(file key, nonce, "payload") and a 12-byte nonce of an 11-byte
 * big-endian chunk counter and a last-chunk flag. Synchronous state machines fed piece by piece,
 * so the stream Transforms and the buffer helpers share them; memory stays at about one chunk
 * plus the piece being fed.
 */
import { randomBytes } from 'node:crypto';
import { ByteQueue } from './byte-queue';
import { AgeHeaderError, AgePayloadError } from './errors';
import { hkdf, open, seal, TAG_SIZE } from './primitives';

/** Plaintext bytes of a full chunk. */
export const CHUNK_SIZE = 64 * 1024;
/** Bytes of a full sealed chunk. */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
/** Bytes of the payload nonce. */
export const PAYLOAD_NONCE_SIZE = 16;

/** Where a piece of output goes. */
export type Sink = (bytes: Buffer) => void;

/** The ChaCha20-Poly1305 nonce of chunk `counter`: 11 bytes big-endian, then 1 on the last chunk. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // A JavaScript number counts to 2^53 chunks exactly (512 ZiB), far past any file.
  nonce.writeUIntBE(Math.floor(counter / 2 ** 32), 3, 4);
  nonce.writeUInt32BE(counter >>> 0, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Encrypts a payload: start() gives the nonce, write() the full chunks, end() the last one. */
export class PayloadEncryptor {
  private readonly key: Buffer;
  private readonly pending = new ByteQueue();
  private counter = 0;

  constructor(fileKey: Uint8Array, readonly nonce: Buffer = randomBytes(PAYLOAD_NONCE_SIZE)) {
    this.key = hkdf(fileKey, nonce, 'payload');
  }

  /** Seals every chunk known not to be the last (more bytes follow it). */
  write(plaintext: Buffer, out: Sink): void {
    this.pending.push(plaintext);
    while (this.pending.length > CHUNK_SIZE) out(seal(this.key, chunkNonce(this.counter++, false), this.pending.take(CHUNK_SIZE)));
  }

  /** Seals the last chunk: short, full, or empty only when the whole payload is. */
  end(out: Sink): void {
    out(seal(this.key, chunkNonce(this.counter++, true), this.pending.take(this.pending.length)));
  }
}

/**
 * Decrypts a payload (nonce included) and refuses, with AgePayloadError, a truncated one, an
 * altered chunk, an empty last chunk after others, and any byte after the last chunk. Plaintext
 * goes out chunk by chunk as each authenticates, so a consumer must treat the stream's error as
 * the verdict on everything it received.
 */
export class PayloadDecryptor {
  private key: Buffer | null = null;
  private readonly pending = new ByteQueue();
  private counter = 0;
  private done = false;

  constructor(private readonly fileKey: Uint8Array) {}

  /** Decrypts every sealed chunk that has bytes after it. */
  write(bytes: Buffer, out: Sink): void {
    this.pending.push(bytes);
    if (this.done) this.trailing();
    if (!this.key) {
      if (this.pending.length < PAYLOAD_NONCE_SIZE) return;
      this.key = hkdf(this.fileKey, this.pending.take(PAYLOAD_NONCE_SIZE), 'payload');
    }
    while (this.pending.length > SEALED_CHUNK_SIZE) {
      const sealed = this.pending.take(SEALED_CHUNK_SIZE);
      const plain = open(this.key, chunkNonce(this.counter, false), sealed);
      if (plain) {
        this.counter++;
        out(plain);
        continue;
      }
      // A full chunk marked last with bytes after it: release it as the reference does, then refuse the rest.
      this.openLast(sealed, out);
      this.trailing();
    }
  }

  /** Decrypts what is left, which must be the last chunk. */
  end(out: Sink): void {
    if (this.done) {
      if (this.pending.length > 0) this.trailing();
      return;
    }
    // The nonce is read with the header (as the reference does), so its absence is a header failure.
    if (!this.key) throw new AgeHeaderError(`the file ends ${this.pending.length} bytes into the ${PAYLOAD_NONCE_SIZE}-byte payload nonce after the header: it is truncated; fetch it again`);
    const rest = this.pending.take(this.pending.length);
    if (rest.length === 0) throw this.truncated(this.counter === 0 ? 'the payload has no chunk' : 'the payload ends without its last chunk');
    if (rest.length === TAG_SIZE && this.counter > 0) throw new AgePayloadError('the payload\'s last chunk is empty after other chunks, which the format forbids: the file was altered or written by a faulty encoder', { chunk: this.counter });
    if (rest.length === SEALED_CHUNK_SIZE) {
      // A full chunk at the end is either the last one or a non-last one whose successor is missing.
      const plain = open(this.key, chunkNonce(this.counter, false), rest);
      if (plain) {
        this.counter++;
        out(plain);
        throw this.truncated('the payload ends without its last chunk');
      }
    }
    this.openLast(rest, out);
  }

  private openLast(sealed: Buffer, out: Sink): void {
    const plain = open(this.key as Buffer, chunkNonce(this.counter, true), sealed);
    if (!plain) {
      throw new AgePayloadError(`payload chunk ${this.counter} does not authenticate: the file is corrupted or was altered; do not trust it, fetch a good copy`, { chunk: this.counter });
    }
    this.counter++;
    this.done = true;
    out(plain);
  }

  private trailing(): never {
    throw new AgePayloadError('bytes follow the payload\'s last chunk: the file was altered or two files were joined; fetch a good copy', { chunk: this.counter });
  }

  private truncated(why: string): AgePayloadError {
    return new AgePayloadError(`${why}: the file is truncated (an interrupted upload, copy or download); fetch it again`, { chunk: this.counter });
  }
}
