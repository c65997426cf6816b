/**
 * Incremental attachments: a set copies only the attachments its parent set does not already
 * hold, and its listing names, for every other one, the earlier set that stores it.
 *
 * How "the parent holds the same file" is decided, without reading the cut's files again:
 * - folder store: same path, size, mtime (to the nanosecond Node reports) and inode as the
 *   parent's record; its sha256 is carried over. Hashing the cut instead would read every byte of
 *   the store (often an NFS share) at every backup, which is what incremental sets avoid. Trusting
 *   the metadata is safe for TheHive's store: it names a file by its content (`aa/bb/<sha256>`)
 *   and never rewrites one in place, so a path with the same size, mtime and inode holds the same
 *   bytes. Anything else (a file rewritten, replaced by a rename, restored with a new inode, or
 *   one the parent saw changing while it copied it) differs in one of them and is copied again.
 *   Mode and owner are not part of the content: they are recorded from this cut, and restore
 *   applies them from this set's listing.
 * - bucket store: same key, size and ETag (an overwrite gives a new ETag); the sha256 recorded
 *   when the parent copied the object is carried over.
 *
 * The parent's listing is read once and indexed by a Map keyed by path or key that holds the
 * parsed entries themselves: a Map slot costs some 40 bytes beyond the parsed entry (~300 bytes
 * with its path and sha256 strings), so 1,000,000 attachments take ~350 MB while the cut is split,
 * released before the copy starts.
 */
import { errorMessage } from '../../../shared/errors';
import { readFilesListing } from '../../../shared/parts/files-paths';
import type { FilesListing, ListedFile, ListedObject } from '../../../shared/parts/files';
import type { RoleContext } from '../role';
import type { CutFile, LocalCut } from './localfs';
import type { CutObject, S3Cut } from './s3';

/** The parent's attachments of this node, by path or key; `set` names the set storing each. */
export interface ParentAttachments<E> {
  /** The parent set's id. */
  parentId: string;
  byName: Map<string, E>;
}

/** The parent's record of this node's store when it is the same store as this cut's; null (and logged why) otherwise. */
export async function parentAttachments(ctx: RoleContext, cut: LocalCut): Promise<ParentAttachments<ListedFile> | null>;
export async function parentAttachments(ctx: RoleContext, cut: S3Cut): Promise<ParentAttachments<ListedObject> | null>;
export async function parentAttachments(ctx: RoleContext, cut: LocalCut | S3Cut): Promise<ParentAttachments<ListedFile | ListedObject> | null> {
  if (!ctx.parent) return null;
  const parentId = ctx.parent.backupId;
  const storeAll = (why: string, level: 'info' | 'warn' = 'warn') => {
    ctx.log[level]({ parent: parentId, why }, 'files: this set stores every attachment of the cut, none is taken from the parent set');
    return null;
  };
  let listing: FilesListing;
  try {
    const { node } = await ctx.parent.load();
    const part = node?.parts.files;
    if (!part) return storeAll(`the parent set has no files part of node ${ctx.node}`, 'info');
    listing = await readFilesListing(ctx.destination, part.listing, parentId);
  } catch (err) {
    // A backup that copies everything is still a good backup: the parent's damage is no reason to fail it.
    ctx.signal.throwIfAborted();
    return storeAll(`the parent's files listing cannot be read: ${errorMessage(err)}`);
  }
  if (listing.store !== cut.store) return storeAll(`the parent backed up a ${listing.store} store, this cut is a ${cut.store} store`, 'info');
  if (listing.store === 'localfs' && cut.store === 'localfs') {
    if (listing.location !== cut.location) return storeAll(`the parent backed up folder ${listing.location}, this cut is ${cut.location}`, 'info');
    // A file the parent saw changing while it copied it is recorded with the cut's mtime but the bytes found: never trusted.
    const changed = new Set(listing.changed.map((c) => c.path));
    return { parentId, byName: new Map(listing.files.filter((f) => !changed.has(f.path)).map((f) => [f.path, f])) };
  }
  if (listing.store === 's3' && cut.store === 's3') {
    if (listing.bucket !== cut.bucket || listing.endpoint !== cut.endpoint) return storeAll(`the parent backed up bucket ${listing.bucket}${listing.endpoint ? ` at ${listing.endpoint}` : ''}, this cut is bucket ${cut.bucket}`, 'info');
    return { parentId, byName: new Map(listing.objects.map((o) => [o.key, o])) };
  }
  return null;
}

/** The set to name for an attachment the parent holds: the parent's own `set` when it references it too, so a listing never names a chain of hops. */
const holder = (parentId: string, e: { set?: string }) => e.set ?? parentId;

/** True when the parent's record is the cut's file (see the header). */
export const sameFile = (p: ListedFile, f: CutFile): boolean => p.size === f.size && p.mtimeMs === f.mtimeMs && p.ino === f.ino;

/** True when the parent's record is the cut's object: same size and a (non-empty) ETag. */
export const sameObject = (p: ListedObject, o: CutObject): boolean => p.size === o.size && !!o.etag && p.etag === o.etag;

/** Splits a folder cut into the files to copy and the listing entries of those the parent holds. */
export function splitFolderCut(cut: LocalCut, parent: ParentAttachments<ListedFile> | null): { copy: LocalCut; kept: ListedFile[] } {
  if (!parent) return { copy: cut, kept: [] };
  const copy: CutFile[] = [];
  const kept: ListedFile[] = [];
  for (const f of cut.files) {
    const p = parent.byName.get(f.path);
    if (p && sameFile(p, f)) kept.push({ ...f, sha256: p.sha256, set: holder(parent.parentId, p) });
    else copy.push(f);
  }
  return { copy: { ...cut, files: copy }, kept };
}

/** Splits a bucket cut into the objects to copy and the listing entries of those the parent holds. */
export function splitBucketCut(cut: S3Cut, parent: ParentAttachments<ListedObject> | null): { copy: S3Cut; kept: ListedObject[] } {
  if (!parent) return { copy: cut, kept: [] };
  const copy: CutObject[] = [];
  const kept: ListedObject[] = [];
  for (const o of cut.objects) {
    const p = parent.byName.get(o.key);
    if (p && sameObject(p, o)) kept.push({ key: o.key, size: o.size, etag: o.etag, sha256: p.sha256, set: holder(parent.parentId, p) });
    else copy.push(o);
  }
  return { copy: { ...cut, objects: copy }, kept };
}
