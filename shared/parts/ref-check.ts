/** A stream check against a FileRef: the bytes that pass are bounded by its size and must end with its sha256. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ValidationError } from '../errors';
import type { FileRef } from './common';

/** How a reader words the two refusals (what the ref is of, and where it was recorded). */
export interface RefCheckWords {
  tooLarge(ref: FileRef): string;
  mismatch(ref: FileRef, seen: number, sha256: string): string;
}

/** Passes the bytes on while counting and hashing them; fails past `ref.size`, or at the end on another size or digest. */
export class RefCheck extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  constructor(private readonly ref: FileRef, private readonly words: RefCheckWords) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.ref.size) return cb(new ValidationError(this.words.tooLarge(this.ref), { path: this.ref.path }));
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const got = this.hash.digest('hex');
    cb(this.seen === this.ref.size && got === this.ref.sha256 ? null : new ValidationError(this.words.mismatch(this.ref, this.seen, got), { path: this.ref.path }));
  }
}
