/**
 * Conditional writes: what lets two coordinators share one destination without both believing
 * they hold its lock. A create that fails when the name exists, and a replace that fails unless
 * the file is still the version the caller read. S3 has both natively (If-None-Match: *,
 * If-Match: ETag); file systems get them from link(2), which fails with EEXIST when the name
 * exists, atomically on a local file system and on NFS alike.
 */
import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors';

/** createExclusive() found the name taken. */
export class AlreadyExistsError extends ConflictError {}

/** replaceIf() found the file changed (or gone) since the version the caller read. */
export class VersionMismatchError extends ConflictError {}

/** replaceIf() found another replace of the same file in progress: nothing was changed; try again. */
export class ReplaceBusyError extends ConflictError {}

/** A small file's content and its version token: the S3 ETag, or `sha256:<hex>` of the bytes on file systems. */
export interface Versioned {
  data: Buffer;
  version: string;
}

/** The version token file-system destinations use: the digest of the content. */
export function contentVersion(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * readVersioned for a destination whose version token is its content's digest (local, rsync):
 * the file read under its cap, with that digest; null when it does not exist.
 */
export async function readVersionedByContent(dest: { readSmall(relPath: string, maxBytes: number): Promise<Buffer> }, relPath: string, maxBytes: number): Promise<Versioned | null> {
  try {
    const data = await dest.readSmall(relPath, maxBytes);
    return { data, version: contentVersion(data) };
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/** The hex digest inside a `sha256:` version token, or null when `version` is not one. */
export function digestOfVersion(version: string): string | null {
  const m = /^sha256:([0-9a-f]{64})$/.exec(version);
  return m ? m[1] : null;
}
