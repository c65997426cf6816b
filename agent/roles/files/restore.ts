/**
 * Restore of the files role. The backup's listing (`<backupId>/<node>/files/listing.json`) says
 * what to put back: files with sha256, modes and owners for a folder, objects for a bucket.
 * Options: files_target (drill folder), files_bucket (drill bucket), files_clean=true (remove
 * files the listing does not hold, as the vendor's "empty the folder" step), drop_scratch=true.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { readAll } from '../../../shared/destination';
import { bucketNameProblem } from '../../../shared/destination/config';
import { PreconditionError, ValidationError } from '../../../shared/errors';
import { optionOn, restoreSource } from '../restore-source';
import type { RestoreContext, RestorePhase } from '../role';
import type { ResolvedFilesSettings } from './config';
import { linkedSignal } from './copy';
import { loadFolder, verifyFolder, type FolderListing } from './restore-localfs';
import { dropObjects, ensureBucket, loadBucket, verifyBucket, type ListedObject } from './restore-s3';
import { storeClient } from './s3';

/** The listing as ship wrote it (tandem.files-listing/v1). */
type Listing = { format?: string } & (({ store: 'localfs' } & FolderListing) | { store: 's3'; bucket: string; objects: ListedObject[] });

/** Reads the listing and checks it against the manifest's sha256, so a tampered listing is caught. */
async function readListing(ctx: RestoreContext, base: string): Promise<Listing> {
  const path = `${base}/listing.json`;
  const body = await readAll(ctx.destination, path);
  const want = ctx.manifest.files.find((f) => f.path === path)?.sha256;
  const got = createHash('sha256').update(body).digest('hex');
  if (want && want !== got) throw new ValidationError(`${path} does not match the manifest (sha256 ${got}, expected ${want}): the backup set is damaged`);
  const listing = JSON.parse(body.toString('utf8')) as Listing;
  if (listing.store !== 'localfs' && listing.store !== 's3') throw new ValidationError(`${path}: unknown store ${JSON.stringify((listing as { store?: unknown }).store)}`);
  if (listing.store === 'localfs') listing.dirs ??= [];
  return listing;
}

/** The folder to restore into: option files_target (a drill) or the configured location. */
function folderTarget(ctx: RestoreContext, s: ResolvedFilesSettings): { target: string; scratch: boolean } {
  const t = ctx.options.files_target;
  if (t !== undefined) {
    if (!isAbsolute(t) || normalize(t) !== t || t === '/') throw new ValidationError(`files_target ${JSON.stringify(t)} must be an absolute, normalized folder other than /`);
    if (s.store === 'localfs' && normalize(s.location) === t) return { target: t, scratch: false };
    // A drill folder holding the live one would have it cleaned (files_clean) or removed (drop_scratch).
    if (s.store === 'localfs' && normalize(s.location).startsWith(`${t}/`)) throw new ValidationError(`files_target ${t} contains the live files folder ${s.location}; choose a separate folder`);
    return { target: t, scratch: true };
  }
  if (s.store !== 'localfs') throw new PreconditionError('the backup holds a files folder but this agent\'s files store is s3; set option files_target to restore the folder');
  return { target: s.location, scratch: false };
}

/** Runs one restore phase of the files role. */
export async function restoreFiles(phase: RestorePhase, outer: RestoreContext, s: ResolvedFilesSettings): Promise<unknown> {
  if (phase === 'check' || phase === 'fetch' || phase === 'schema') return null;
  // Each concurrent transfer adds abort listeners; a private signal avoids Node's leak warning.
  const linked = linkedSignal(outer.signal, 10 + 4 * s.concurrency);
  const ctx = { ...outer, signal: linked.signal };
  try {
    const src = restoreSource<unknown, unknown>(ctx, 'files');
    const base = `${ctx.backupId}/${src.node}/files`;
    const listing = await readListing(ctx, base);
    return listing.store === 'localfs' ? await folderPhase(phase, ctx, s, base, listing) : await bucketPhase(phase, ctx, s, base, listing.objects);
  } finally {
    linked.dispose();
  }
}

async function folderPhase(phase: RestorePhase, ctx: RestoreContext, s: ResolvedFilesSettings, base: string, listing: FolderListing) {
  const { target, scratch } = folderTarget(ctx, s);
  const t = { base, target, concurrency: s.concurrency };
  if (phase === 'load') return loadFolder(ctx, t, listing, optionOn(ctx, 'files_clean'));
  if (phase === 'verify') return verifyFolder(ctx, t, listing);
  // cleanup: only a drill's scratch folder is removed, never the live location.
  if (!optionOn(ctx, 'drop_scratch') || !scratch) return null;
  await fs.rm(target, { recursive: true, force: true });
  ctx.log.info({ target }, 'removed the drill files folder');
  return { removed: target };
}

async function bucketPhase(phase: RestorePhase, ctx: RestoreContext, s: ResolvedFilesSettings, base: string, objects: ListedObject[]) {
  if (s.store !== 's3') throw new PreconditionError('the backup holds a files bucket but this agent\'s files store is localfs; configure the s3 store to restore it');
  const drill = ctx.options.files_bucket;
  if (drill !== undefined && bucketNameProblem(drill)) throw new ValidationError(`files_bucket ${JSON.stringify(drill)}: ${bucketNameProblem(drill)}`);
  const bucket = drill ?? s.bucket;
  const scratch = bucket !== s.bucket;
  if (phase === 'cleanup' && (!optionOn(ctx, 'drop_scratch') || !scratch)) return null;
  const client = storeClient(s);
  try {
    const t = { base, bucket, concurrency: s.concurrency };
    if (phase === 'load') {
      if (scratch) await ensureBucket(client, bucket);
      return await loadBucket(ctx, client, t, objects);
    }
    if (phase === 'verify') return await verifyBucket(ctx, client, t, objects);
    return await dropObjects(ctx, client, bucket, objects);
  } finally {
    client.destroy();
  }
}
