/**
 * What every destination (local folder, rsync over ssh, S3) offers. Paths are relative to the
 * destination root, '/'-separated, and checked by safeRelPath(); files whose path has a segment
 * starting with '.' are temporary (partial uploads) and never listed.
 */
import type { Readable } from 'node:stream';
import type { Versioned } from './conditional';

/** Options of one upload. */
export interface PutOptions {
  /** Aborting stops the transfer and leaves nothing at the final path. */
  signal?: AbortSignal;
  /** Expected size in bytes; when given, a different byte count fails the put. Default: not checked. */
  size?: number;
}

/** What an upload stored. */
export interface PutResult {
  /** Bytes stored. */
  size: number;
  /** The S3 ETag (quoted, as S3 returns it); absent for file-system destinations. */
  etag?: string;
}

/** One stored file. */
export interface DestinationEntry {
  /** Path relative to the destination root. */
  path: string;
  /** Size in bytes. */
  size: number;
}

/** A place backup sets are written to and read from. */
export interface Destination {
  /** Human-readable location without secrets, e.g. `s3://bucket/prefix at http://minio:9000`. */
  describe(): string;
  /** Stores a local file (path) or a stream at relPath; the file appears under its final name only when complete. */
  put(relPath: string, source: string | Readable, opts?: PutOptions): Promise<PutResult>;
  /** Opens a stored file for reading; throws NotFoundError if it does not exist. */
  get(relPath: string): Promise<Readable>;
  /**
   * The whole content of a small stored file (manifest, marker, part.json), refused with
   * ValidationError when larger than maxBytes: the size is checked before the read where the
   * backend can tell it, and the read stops one byte past the cap anyway. NotFoundError if absent.
   */
  readSmall(relPath: string, maxBytes: number): Promise<Buffer>;
  /** The size of a stored file, or null if it does not exist. */
  stat(relPath: string): Promise<{ size: number } | null>;
  /** Every file under the folder `prefix` ('' = the whole root), recursively, sorted by path; [] if none. */
  list(prefix: string): Promise<DestinationEntry[]>;
  /** Names of the folders directly under the folder `prefix` ('' = the root), sorted; hidden ones left out; [] if none. */
  folders(prefix: string): Promise<string[]>;
  /** The newest modification time (ms since the epoch) of the files under the folder `prefix`; null when it holds none. */
  newestChange(prefix: string): Promise<number | null>;
  /** Deletes the file or folder at `prefix` recursively (a backup set's folder); no error if absent. Refuses ''. */
  remove(prefix: string): Promise<void>;
  /** Writes small data (the manifest) so readers see the old content or the new, never a torn file. */
  writeAtomic(relPath: string, data: Buffer | string): Promise<void>;
  /** A small file and its version token (for replaceIf), at most maxBytes as readSmall; null when absent. */
  readVersioned(relPath: string, maxBytes: number): Promise<Versioned | null>;
  /** Creates relPath with `data` unless the name exists (AlreadyExistsError); returns the new version token. Of two contenders exactly one wins. */
  createExclusive(relPath: string, data: Buffer | string): Promise<string>;
  /** Replaces relPath with `data` only if it is still at `expectedVersion` (else VersionMismatchError, also when absent); returns the new version token. */
  replaceIf(relPath: string, data: Buffer | string, expectedVersion: string): Promise<string>;
  /** Preflight: creates and removes a probe file; throws PreconditionError saying what to fix. */
  checkWritable(): Promise<void>;
}
