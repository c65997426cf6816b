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
 * The parent's listing is copied into workDir (size and sha256 checked), then read line by line.
 * An encrypted parent's listing opens only with its set key, which an agent never holds: the agent
 * reads instead the plaintext copy it kept when it wrote that listing (agent/backup/local-copies.ts),
 * used only when the parent's signed manifest records the very ciphertext it stored (no copy, or
 * no match: every attachment is copied, logged). A kept entry carries the parent's `sealed` record,
 * so the listing still says which ciphertext a reader must find.
 * - folder store: both the cut and the parent's listing are in listing order (compareStorePaths),
 *   so "held by the parent" is one merge of the two, in one pass, whatever their size.
 * - bucket store: the parent's entries are indexed by key in a Map (~350 bytes an object), as the
 *   cut of a bucket is itself held in memory.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { storedPath } from '../../../shared/encrypted-set';
import { errorMessage } from '../../../shared/errors';
import { compareStorePaths, listedObjects, openListing, type ListingHeader, type ListingReader } from '../../../shared/parts/files-listing';
import type { ListedFile, ListedObject } from '../../../shared/parts/files';
import type { RoleContext } from '../role';
import type { FolderCut } from './cut';
import { fetchListing } from './listing-local';
import type { CutFile } from './walk';
import type { CutObject, S3Cut } from './s3';

/** The parent set's listing of this node's store, when it is the same store as this cut's. */
export interface ParentListing {
  /** The parent set's id. */
  parentId: string;
  /** Opens the listing (a local copy, checked) from its start. */
  open: () => Promise<ListingReader>;
  /** True for an encrypted set: an entry is kept only with the ciphertext record it was stored as. */
  encrypted: boolean;
}

/** The parent's listing of this node's store when it is the same store as this cut's; null (and logged why) otherwise. */
export async function parentListing(ctx: RoleContext, cut: FolderCut | S3Cut): Promise<ParentListing | null> {
  if (!ctx.parent) return null;
  const parentId = ctx.parent.backupId;
  const storeAll = (why: string, level: 'info' | 'warn' = 'warn') => {
    ctx.log[level]({ parent: parentId, why }, 'files: this set stores every attachment of the cut, none is taken from the parent set');
    return null;
  };
  let open: () => Promise<ListingReader>;
  let header: ListingHeader;
  try {
    const { node, manifest } = await ctx.parent.load();
    const part = node?.parts.files;
    if (!part) return storeAll(`the parent set has no files part of node ${ctx.node}`, 'info');
    if (ctx.options.setRecipient) {
      const stored = manifest.files.find((f) => f.path === storedPath(part.listing.path));
      const local = stored && ctx.localCopyFile ? await ctx.localCopyFile(stored) : null;
      if (!local) return storeAll(`the parent's files listing is encrypted and this agent keeps no plaintext copy matching the ${storedPath(part.listing.path)} the parent's manifest records (another host wrote it, or the state folder was reset)`);
      // The copy is checked against the parent's part (plaintext size and sha256) as it is read.
      open = () => openListing(async () => createReadStream(local), part.listing, parentId);
    }
    else open = await fetchListing(ctx.destination, part.listing, parentId, join(ctx.workDir, 'parent-listing'), ctx.signal);
    const first = await open();
    header = first.header;
    first.close();
  } catch (err) {
    // A backup that copies everything is still a good backup: the parent's damage is no reason to fail it.
    ctx.signal.throwIfAborted();
    return storeAll(`the parent's files listing cannot be read: ${errorMessage(err)}`);
  }
  if (header.store !== cut.store) return storeAll(`the parent backed up a ${header.store} store, this cut is a ${cut.store} store`, 'info');
  if (header.store === 'localfs' && cut.store === 'localfs' && header.location !== cut.location) return storeAll(`the parent backed up folder ${header.location}, this cut is ${cut.location}`, 'info');
  if (header.store === 's3' && cut.store === 's3' && (header.bucket !== cut.bucket || header.endpoint !== cut.endpoint)) {
    return storeAll(`the parent backed up bucket ${header.bucket}${header.endpoint ? ` at ${header.endpoint}` : ''}, this cut is bucket ${cut.bucket}`, 'info');
  }
  return { parentId, open, encrypted: !!ctx.options.setRecipient };
}

/** True when the parent's entry was stored the way this set stores: sealed in an encrypted set, in clear in a clear one. */
const sameKind = (parent: ParentListing, e: { sealed?: unknown }): boolean => parent.encrypted === (e.sealed !== undefined);

/** The set to name for an attachment the parent holds: the parent's own `set` when it references it too, so a listing never names a chain of hops. */
const holder = (parentId: string, e: { set?: string }) => e.set ?? parentId;

/** True when the parent's record is the cut's file (see the header). */
export const sameFile = (p: ListedFile, f: CutFile): boolean => p.size === f.size && p.mtimeMs === f.mtimeMs && p.ino === f.ino;

/** True when the parent's record is the cut's object: same size and a (non-empty) ETag. */
export const sameObject = (p: ListedObject, o: CutObject): boolean => p.size === o.size && !!o.etag && p.etag === o.etag;

/**
 * Looks the cut's files up in the parent's listing, in one pass: ask for the files in listing
 * order and each answer is the listing entry this set keeps (the parent holds the same file),
 * or null (copy it). A parent listing that turns out damaged part-way is logged and the rest of
 * the cut is copied: what was kept before came from lines already checked.
 */
export async function folderLookup(ctx: RoleContext, parent: ParentListing | null): Promise<{ keep: (f: CutFile) => Promise<ListedFile | null>; close: () => Promise<void> }> {
  if (!parent) return { keep: async () => null, close: async () => undefined };
  const reader = await parent.open();
  // A file the parent saw changing while it copied it is recorded with the cut's mtime but the
  // bytes found: never trusted. Its `changed` line comes before its entry.
  const untrusted = new Set<string>();
  async function* trusted(): AsyncGenerator<ListedFile> {
    for await (const r of reader.records) {
      if ('changed' in r) untrusted.add(r.changed.path);
      else if ('file' in r && !untrusted.delete(r.file.path)) yield r.file;
    }
  }
  const it = trusted();
  let head: ListedFile | null | undefined;
  const advance = async () => {
    try {
      const n = await it.next();
      head = n.done ? null : n.value;
    } catch (err) {
      ctx.signal.throwIfAborted();
      ctx.log.warn({ parent: parent.parentId, why: errorMessage(err) }, 'files: the parent\'s listing is damaged part-way; the rest of the cut is copied');
      head = null;
    }
  };
  await advance();
  return {
    async keep(f) {
      while (head && compareStorePaths(head.path, f.path) < 0) await advance();
      if (!head || head.path !== f.path || !sameFile(head, f) || !sameKind(parent, head)) return null;
      return { ...f, sha256: head.sha256, set: holder(parent.parentId, head), ...(head.sealed ? { sealed: head.sealed } : {}) };
    },
    close: async () => void (await it.return(undefined)),
  };
}

/** The parent's objects by key (a bucket's cut is held in memory, see the header). */
async function parentObjects(parent: ParentListing): Promise<Map<string, ListedObject>> {
  const byKey = new Map<string, ListedObject>();
  for await (const o of listedObjects((await parent.open()).records)) byKey.set(o.key, o);
  return byKey;
}

/** Splits a bucket cut into the objects to copy and the listing entries of those the parent holds. */
export async function splitBucketCut(cut: S3Cut, parent: ParentListing | null): Promise<{ copy: S3Cut; kept: ListedObject[] }> {
  if (!parent) return { copy: cut, kept: [] };
  const byKey = await parentObjects(parent);
  const copy: CutObject[] = [];
  const kept: ListedObject[] = [];
  for (const o of cut.objects) {
    const p = byKey.get(o.key);
    if (p && sameObject(p, o) && sameKind(parent, p)) kept.push({ key: o.key, size: o.size, etag: o.etag, sha256: p.sha256, set: holder(parent.parentId, p), ...(p.sealed ? { sealed: p.sealed } : {}) });
    else copy.push(o);
  }
  return { copy: { ...cut, objects: copy }, kept };
}
