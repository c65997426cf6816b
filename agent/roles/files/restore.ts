/**
 * Restore of the files role. The backup's listing (`<backupId>/<node>/files/listing.ndjson`) says
 * what to put back: files with sha256, modes and owners for a folder, objects for a bucket; each
 * is read from the set that stores it (this one, or an earlier one for an unchanged attachment).
 * Options: files_target (drill folder), files_bucket (drill bucket), files_clean=true (remove
 * files the listing does not hold, as the vendor's "empty the folder" step), drop_scratch=true.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';
import { PreconditionError, ValidationError } from '../../../shared/errors';
import { NoFollowRoot } from '../../../shared/nofollow';
import type { FilesPart, ListedObject } from '../../../shared/parts/files';
import { listedObjects } from '../../../shared/parts/files-listing';
import { attachmentPath } from '../../../shared/parts/files-paths';
import { restoreSource } from '../restore-source';
import type { PhaseOutcome, RestoreContext, RestorePhase } from '../role';
import type { ResolvedFilesSettings } from './config';
import { linkedSignal } from './copy';
import { fetchListing, type LocalListing } from './listing-local';
import { loadFolder, verifyFolder, type FolderTarget } from './restore-localfs';
import { dropObjects, ensureBucket, loadBucket, verifyBucket, type BucketTarget } from './restore-s3';
import { storeClient } from './s3';

/**
 * The listing the part references, copied into workDir and checked against its size and sha256
 * before anything is restored from it (each line is checked again, by its schema, as it is read).
 */
const readListing = (ctx: RestoreContext, part: FilesPart): Promise<LocalListing> => fetchListing(ctx.destination, part.listing, ctx.backupId, join(ctx.workDir, 'listing'), ctx.signal);

/** The folder to restore into: option files_target (a drill) or the configured location. */
function folderTarget(ctx: RestoreContext, s: ResolvedFilesSettings): { target: string; scratch: boolean } {
  // Absolute and normalized: checked where the request entered (restoreOptionsSchema).
  const t = ctx.options.filesTarget;
  if (t !== undefined) {
    if (s.store === 'localfs' && normalize(s.location) === t) return { target: t, scratch: false };
    // A drill folder holding the live one would have it cleaned (files_clean) or removed (drop_scratch).
    if (s.store === 'localfs' && normalize(s.location).startsWith(`${t}/`)) throw new ValidationError(`filesTarget ${t} contains the live files folder ${s.location}; choose a separate folder`);
    return { target: t, scratch: true };
  }
  if (s.store !== 'localfs') throw new PreconditionError('the backup holds a files folder but this agent\'s files store is s3; set filesTarget (restore --files-target) to restore the folder');
  return { target: s.location, scratch: false };
}

/** True when `folder` is one of `allowed` or inside one. */
const within = (folder: string, allowed: readonly string[]) => allowed.some((a) => folder === a || folder.startsWith(a.endsWith('/') ? a : `${a}/`));

/**
 * Refuses a `filesTarget` outside the folders the agent's configuration lets a restore write into
 * (files.restoreTargets). A load renames over existing files with the listing's owner and mode,
 * and files_clean removes every file there the backup does not hold: a planted or mistaken
 * target (`/etc`, a home folder, the agent's state folder) must be neither written nor emptied.
 * Checked in the first phase, before any role changes anything, and again on the real paths
 * before the load and the cleanup.
 */
export function checkFilesTarget(options: Pick<RestoreContext['options'], 'filesTarget' | 'filesClean'>, s: Pick<ResolvedFilesSettings, 'restoreTargets'>, real?: { target: string; allowed: string[] }): void {
  const t = options.filesTarget;
  if (t === undefined) return;
  if (within(t, s.restoreTargets) && (!real || within(real.target, real.allowed))) return;
  const shown = real && real.target !== t ? `${t} (${real.target})` : t;
  const what = options.filesClean
    ? `--files-target ${shown} with --files-clean would remove every file there the backup does not hold, and it is outside the folders this agent may restore into`
    : `--files-target ${shown} is outside the folders this agent may restore into`;
  throw new PreconditionError(
    `${what} (${s.restoreTargets.join(', ') || 'none'}): add it, or a folder holding it, to roles.files.restoreTargets in the agent's configuration, or choose a folder inside one of those`,
  );
}

/**
 * Refuses, before any role loads anything, a restore of a bucket set that asks for a scratch copy
 * but names no scratch bucket: a drill (drop_scratch) or a restore given only files_target would
 * otherwise load the set's objects into TheHive's live bucket, over the attachments written since.
 */
export function checkBucketTarget(ctx: Pick<RestoreContext, 'options' | 'manifest' | 'node' | 'backupId'>): void {
  const { options } = ctx;
  if (options.filesBucket !== undefined || (!options.dropScratch && options.filesTarget === undefined)) return;
  // A set without a files part is refused (or skipped) where its listing is read, not here.
  if (!ctx.manifest.nodes.some((n) => n.parts.files !== undefined)) return;
  if (restoreSource(ctx as RestoreContext, 'files').part.store !== 's3') return;
  const asked = options.dropScratch ? 'a drill' : `--files-target ${options.filesTarget}`;
  throw new PreconditionError(`backup ${ctx.backupId} holds a files bucket: ${asked} names no scratch bucket, and would load its objects into TheHive's live bucket; give --files-bucket NAME (restore) or update the coordinator (drill)`);
}

/** The real path of `p`, or `p` when it does not exist yet. */
const realOrSelf = async (p: string) => fs.realpath(p).catch(() => p);

/** checkFilesTarget on the real paths: a link inside an allowed folder must not lead the restore elsewhere. */
async function checkRealFilesTarget(options: RestoreContext['options'], s: ResolvedFilesSettings): Promise<void> {
  if (options.filesTarget === undefined) return;
  checkFilesTarget(options, s, { target: await realTarget(options.filesTarget), allowed: await Promise.all(s.restoreTargets.map(realOrSelf)) });
}

/** The real path of a target that may not exist yet: its nearest existing parent resolved, the rest appended. */
async function realTarget(p: string): Promise<string> {
  const parts = p.split('/').filter(Boolean);
  for (let i = parts.length; i >= 0; i--) {
    const head = `/${parts.slice(0, i).join('/')}`;
    const real = await fs.realpath(head).catch(() => null);
    if (real !== null) return [real === '/' ? '' : real, ...parts.slice(i)].join('/') || '/';
  }
  return p;
}

/** Runs one restore phase of the files role. */
export async function restoreFiles(phase: RestorePhase, outer: RestoreContext, s: ResolvedFilesSettings): Promise<PhaseOutcome | null> {
  if (phase === 'fetch') {
    checkFilesTarget(outer.options, s);
    checkBucketTarget(outer);
  }
  // Again on the real paths before anything is written or removed there.
  if (phase === 'load' || phase === 'cleanup') await checkRealFilesTarget(outer.options, s);
  if (phase === 'check' || phase === 'fetch' || phase === 'schema') return null;
  // Each concurrent transfer adds abort listeners; a private signal avoids Node's leak warning.
  const linked = linkedSignal(outer.signal, 10 + 4 * s.concurrency);
  const ctx = { ...outer, signal: linked.signal };
  try {
    const src = restoreSource(ctx, 'files');
    const open = await readListing(ctx, src.part);
    // Every line checked before the load changes anything: a damaged listing is refused whole, not half-way through.
    if (phase === 'load') for await (const _ of (await open()).records);
    const first = await open();
    const store = first.header.store;
    // An attachment unchanged since an earlier set is fetched from the set that stores it.
    const from = (e: Parameters<typeof attachmentPath>[3]) => attachmentPath(ctx.backupId, src.node, store, e);
    if (store === 'localfs') {
      first.close();
      return await folderPhase(phase, ctx, s, from, open);
    }
    // A bucket's listing is held in memory, as its cut was at backup.
    const objects: ListedObject[] = [];
    for await (const o of listedObjects(first.records)) objects.push(o);
    return await bucketPhase(phase, ctx, s, from, objects);
  } finally {
    linked.dispose();
  }
}

async function folderPhase(phase: RestorePhase, ctx: RestoreContext, s: ResolvedFilesSettings, from: FolderTarget['from'], listing: LocalListing): Promise<PhaseOutcome | null> {
  const { target, scratch } = folderTarget(ctx, s);
  const t = { from, target, concurrency: s.concurrency };
  if (phase === 'load') return loadFolder(ctx, t, listing, ctx.options.filesClean);
  if (phase === 'verify') return verifyFolder(ctx, t, listing);
  // cleanup: only a drill's scratch folder is removed, never the live location.
  if (!ctx.options.dropScratch || !scratch) return null;
  await removeScratchTarget(target);
  ctx.log.info({ target }, 'removed the drill files folder');
  return { detail: `removed ${target}` };
}

/**
 * Removes a drill's scratch folder (checked inside restoreTargets on its real path just before):
 * through its parent opened without following links, and never descending a link inside it.
 */
async function removeScratchTarget(target: string): Promise<void> {
  const real = await fs.realpath(target).catch(() => null);
  if (real === null || real === '/') return;
  await new NoFollowRoot(dirname(real), 'files target').removeTree(basename(real));
}

async function bucketPhase(phase: RestorePhase, ctx: RestoreContext, s: ResolvedFilesSettings, from: BucketTarget['from'], objects: ListedObject[]): Promise<PhaseOutcome | null> {
  if (s.store !== 's3') throw new PreconditionError('the backup holds a files bucket but this agent\'s files store is localfs; configure the s3 store to restore it');
  const drill = ctx.options.filesBucket;
  const bucket = drill ?? s.bucket;
  const scratch = bucket !== s.bucket;
  if (phase === 'cleanup' && (!ctx.options.dropScratch || !scratch)) return null;
  const client = storeClient(s);
  try {
    const t = { from, bucket, concurrency: s.concurrency };
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
