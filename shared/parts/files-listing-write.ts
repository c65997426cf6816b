/**
 * Writing a streamed files listing (files-listing.ts) to a destination while the store is
 * copied: each line goes out as it is known, hashed on the way, and the destination shows the
 * listing under its final name only once the end line is written (Destination.put).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import type { Destination } from '../destination';
import type { FileRef } from './common';
import type { ListingEnd, ListingHeader, ListingRecord } from './files-listing';

/** Writes one listing; `close` ends it and returns its reference, `abort` drops it. */
export class ListingWriter {
  private readonly out = new PassThrough();
  private readonly hash = createHash('sha256');
  private size = 0;
  private failure: unknown = null;
  private readonly stored: Promise<unknown>;
  private readonly copy: WriteStream | null;

  /**
   * Starts the upload of `path`; writes the header line. `localCopy` (a file path) also gets
   * every line: an encrypted set's agent keeps the plaintext of its listing for the next set.
   */
  constructor(dest: Destination, readonly path: string, header: ListingHeader, signal?: AbortSignal, localCopy?: string) {
    this.copy = localCopy ? createWriteStream(localCopy, { mode: 0o600 }) : null;
    this.copy?.on('error', (err) => {
      this.failure ??= err;
    });
    this.stored = dest.put(path, this.out, { signal });
    // A destination that fails stops the writer at its next line instead of leaving it waiting for a drain.
    this.stored.catch((err) => {
      this.failure = err ?? new Error(`upload of ${path} failed`);
      this.out.destroy();
    });
    this.push(header);
  }

  private push(value: unknown): boolean {
    const text = JSON.stringify(value) + '\n';
    this.hash.update(text);
    this.size += Buffer.byteLength(text);
    this.copy?.write(text);
    return this.out.write(text);
  }

  /** Appends one record; waits while the destination is behind (bounded memory). */
  async write(record: ListingRecord): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.push(record)) return;
    await new Promise<void>((resolve) => {
      // Both listeners go once either fires: a listing of millions of lines waits for a drain often.
      const done = () => {
        this.out.off('drain', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('close', done);
    });
    if (this.failure) throw this.failure;
  }

  /** Writes the end line and waits until the destination holds the whole listing. */
  async close(end: ListingEnd): Promise<FileRef> {
    if (this.failure) throw this.failure;
    this.push({ end });
    this.out.end();
    await this.stored;
    if (this.copy) {
      this.copy.end();
      await finished(this.copy);
    }
    return { path: this.path, size: this.size, sha256: this.hash.digest('hex') };
  }

  /** Stops the upload; nothing is left under the listing's name. */
  async abort(reason: unknown): Promise<void> {
    this.out.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    this.copy?.destroy();
    await this.stored.catch(() => undefined);
  }
}
