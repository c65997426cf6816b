/**
 * Streaming sha256 helpers. Archives and their member files are hashed while they stream, so
 * every byte is read exactly once (snapshots can be hundreds of GiB).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';

/** Returns the lowercase hex sha256 of a file, read as a stream (64 KiB chunks). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Pass-through stream that counts the bytes flowing through it and hashes them with sha256. */
export class HashingPassThrough extends Transform {
  /** Bytes seen so far. */
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private hex: string | null = null;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.hex = this.hash.digest('hex');
    cb();
  }

  /** Hex sha256 of everything that passed; only valid once the stream has ended (throws before). */
  digest(): string {
    if (this.hex === null) throw new Error('HashingPassThrough.digest() called before the stream ended');
    return this.hex;
  }
}
