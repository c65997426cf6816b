/** Decrypting age files: a stream Transform for pipelines and a helper for buffers. */
import { Transform } from 'node:stream';
import { AgeError, AgeHeaderError, AgeKeyError } from './errors';
import { findHeaderEnd, parseHeader, unwrapFileKey } from './header';
import { parseIdentity } from './keys';
import { PayloadDecryptor } from './stream';
import { X25519Identity } from './x25519';

/** An identity as an object or as its AGE-SECRET-KEY-1… text. */
export type IdentityInput = X25519Identity | string;

/** Options of decryptStream. */
export interface DecryptOptions {
  /** The longest header accepted, so that a hostile file cannot make the reader buffer without end. Bytes; default 256 KiB. */
  maxHeaderBytes?: number;
}

const DEFAULT_MAX_HEADER_BYTES = 256 * 1024;

function compileIdentities(identities: readonly IdentityInput[]): X25519Identity[] {
  if (!Array.isArray(identities) || identities.length === 0) throw new AgeKeyError('no identity given: decrypting needs at least one AGE-SECRET-KEY-1… identity');
  return identities.map((i) => (i instanceof X25519Identity ? i : parseIdentity(i)));
}

function compileMaxHeader(options: DecryptOptions): number {
  const max = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(max) || max < 64) throw new RangeError(`maxHeaderBytes must be a whole number of bytes ≥ 64, not ${String(max)}`);
  return max;
}

/** Reads the header from pieces as they come, then hands the rest to the payload decryptor. */
class FileDecryptor {
  private header: Buffer = Buffer.allocUnsafe(1024);
  private headerLength = 0;
  private scanned = 0;
  private payload: PayloadDecryptor | null = null;

  constructor(private readonly identities: X25519Identity[], private readonly maxHeaderBytes: number) {}

  write(bytes: Buffer, out: (b: Buffer) => void): void {
    if (this.payload) return this.payload.write(bytes, out);
    // Grow by doubling, so that a header written a byte at a time is copied O(n) times, not O(n²).
    const room = Math.min(bytes.length, this.maxHeaderBytes + 1 - this.headerLength);
    if (this.headerLength + room > this.header.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.header.length * 2, this.headerLength + room));
      this.header.copy(grown, 0, 0, this.headerLength);
      this.header = grown;
    }
    bytes.copy(this.header, this.headerLength, 0, room);
    this.headerLength += room;
    const seen = this.header.subarray(0, this.headerLength);
    const { end, scanned } = findHeaderEnd(seen, this.scanned);
    this.scanned = scanned;
    if (end < 0) {
      if (this.headerLength > this.maxHeaderBytes) throw new AgeHeaderError(`the age header is longer than ${this.maxHeaderBytes} bytes (maxHeaderBytes): the file is malformed, or raise the limit if it has that many recipients`);
      return;
    }
    const fileKey = unwrapFileKey(parseHeader(seen.subarray(0, end)), this.identities);
    this.payload = new PayloadDecryptor(fileKey);
    // What came after the header in this piece (the copied part, then any part not copied).
    const rest = Buffer.concat([seen.subarray(end), bytes.subarray(room)]);
    this.header = Buffer.alloc(0);
    this.payload.write(rest, out);
  }

  end(out: (b: Buffer) => void): void {
    if (!this.payload) {
      if (this.headerLength === 0) throw new AgeHeaderError('the input is empty: there is no age file to decrypt');
      throw new AgeHeaderError('the input ends inside the age header: the file is truncated; fetch it again');
    }
    this.payload.end(out);
  }
}

/**
 * A Transform from an age file to its plaintext, opened by any of `identities`. Plaintext is
 * released chunk by chunk as each authenticates; the stream fails with a typed AgeError
 * (AgeHeaderError, AgeNoMatchError, AgeHeaderMacError, AgePayloadError) when the file is
 * malformed, not for these identities, altered or truncated. Works with stream.pipeline.
 */
export function decryptStream(identities: readonly IdentityInput[], options: DecryptOptions = {}): Transform {
  const file = new FileDecryptor(compileIdentities(identities), compileMaxHeader(options));
  const guard = (t: Transform, step: () => void, callback: (err?: Error | null) => void): void => {
    try {
      step();
      callback();
    } catch (err) {
      callback(err instanceof AgeError ? err : new AgeError(`age decryption failed: ${(err as Error).message}`, {}, { cause: err }));
    }
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      guard(this, () => file.write(chunk, (b) => void this.push(b)), callback);
    },
    flush(callback) {
      guard(this, () => file.end((b) => void this.push(b)), callback);
    },
  });
}

/**
 * The plaintext of the age file `data`. On a payload failure the error is thrown and nothing is
 * returned; `released` (when given) still receives the chunks that authenticated before it.
 */
export function decrypt(identities: readonly IdentityInput[], data: Uint8Array, options: DecryptOptions & { released?: (b: Buffer) => void } = {}): Buffer {
  const file = new FileDecryptor(compileIdentities(identities), compileMaxHeader(options));
  const parts: Buffer[] = [];
  const out = (b: Buffer) => {
    parts.push(b);
    options.released?.(b);
  };
  file.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength), out);
  file.end(out);
  return Buffer.concat(parts);
}
