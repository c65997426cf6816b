/**
 * A files listing read from a destination is first copied into the agent's workDir, its size and
 * sha256 checked on the way: a backup or restore then acts on a listing known whole and
 * unaltered (streamed reading checks the bytes only at the end), and reads it as often as it
 * needs without fetching it again over rsync or S3.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Destination } from '../../../shared/destination';
import { ValidationError } from '../../../shared/errors';
import type { FileRef } from '../../../shared/parts';
import { openListing, type ListingReader } from '../../../shared/parts/files-listing';
import { HashingPassThrough } from '../../archive/checksum';

/** A listing copied into workDir: each call opens it again from the start. */
export type LocalListing = () => Promise<ListingReader>;

/** Copies the listing `ref` names (of set `thisSet`) to `localPath`; ValidationError unless it matches `ref`. */
export async function fetchListing(dest: Destination, ref: FileRef, thisSet: string, localPath: string, signal: AbortSignal): Promise<LocalListing> {
  await fs.mkdir(dirname(localPath), { recursive: true });
  const hasher = new HashingPassThrough();
  await pipeline(await dest.get(ref.path), hasher, createWriteStream(localPath), { signal });
  const got = hasher.digest();
  if (hasher.bytes !== ref.size || got !== ref.sha256) {
    await fs.rm(localPath, { force: true });
    throw new ValidationError(`${ref.path} does not match its record (${hasher.bytes} bytes, sha256 ${got}; expected ${ref.size}, ${ref.sha256}): the backup set is damaged`);
  }
  return () => openListing(async () => createReadStream(localPath), ref, thisSet);
}
