/**
 * Fetching an archive from a destination before extracting it: the whole archive is downloaded to
 * a local file and its size and sha256 compared with the manifest first, so no byte of an archive
 * that is not the one backed up is ever extracted. What the manifest records also bounds the
 * work before it starts: free space for the download and the extracted files is checked up front.
 */
import { createWriteStream } from 'node:fs';
import { rm, statfs } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Destination } from '../../shared/destination';
import { PreconditionError, ValidationError } from '../../shared/errors';
import { formatBytes } from '../../shared/format';
import { HashingPassThrough } from './checksum';

/** An archive as the manifest records it. */
export interface ArchiveRef {
  path: string;
  size: number;
  sha256: string;
}

/** Passes at most `max` bytes; more is an error (a planted file larger than recorded is not downloaded whole). */
class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly max: number, private readonly what: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) cb(new ValidationError(`${this.what} is larger than the ${this.max} bytes the manifest records; refused before extracting`));
    else cb(null, chunk);
  }
}

/**
 * Downloads `ref` to `file` and checks its size and sha256 against the record; on a mismatch the
 * file is removed and ValidationError says so. Nothing is extracted here: call extractArchive on
 * `file` once this returned.
 */
export async function fetchChecked(destination: Destination, ref: ArchiveRef, file: string, signal?: AbortSignal): Promise<void> {
  const hashing = new HashingPassThrough();
  try {
    await rm(file, { force: true });
    await pipeline(await destination.get(ref.path), new ByteLimit(ref.size, ref.path), hashing, createWriteStream(file, { flags: 'wx', mode: 0o600 }), { signal });
    const got = hashing.digest();
    if (hashing.bytes !== ref.size || got !== ref.sha256) {
      throw new ValidationError(
        `${ref.path}: ${hashing.bytes} bytes with sha256 ${got}, the manifest records ${ref.size} bytes with sha256 ${ref.sha256}; the archive is corrupt or was replaced, refused before extracting`,
        { path: ref.path },
      );
    }
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

/** Bytes an unprivileged process may still write on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Throws PreconditionError, before anything is written, when `dir`'s file system has less than `need` bytes free. */
export async function checkFreeSpace(dir: string, need: number, what: string, hint = 'free some space'): Promise<void> {
  const free = await freeBytes(dir);
  if (need > free) {
    throw new PreconditionError(`${what} needs ${formatBytes(need)} in ${dir}, which has ${formatBytes(free)} free: ${hint}`, { need, free });
  }
}
