/**
 * Which set's folder holds each attachment of a files listing (the paths themselves are
 * built by shared/destination/layout.ts). A set stores the
 * attachments its parent did not hold and names, in each other listing entry, the earlier set
 * that stores it (`set`). Backup, restore, verify and retention all find an attachment through
 * this one definition, so they cannot disagree about the layout:
 *
 *   `<set>/<node>/files/data/<path>`  a folder store's file  (set: the entry's `set`, else this set)
 *   `<set>/<node>/files/s3/<key>`     a bucket store's object
 *   `<set>/<node>/files/sealed/<2 hex>/<name>`  either, in an encrypted set (entry's `sealed.name`;
 *                                               the stored file is that + `.age`)
 *
 * Every piece is validated before it gets here: the set by the backup id pattern (listing
 * schema), the node by its name pattern (manifest), the path or key by the destination's path
 * rules (listing schema); an entry naming the listing's own set is refused on read.
 */
import type { Destination } from '../destination';
import { attachmentFilePath, sealedAttachmentPath } from '../destination/layout';
import { ValidationError } from '../errors';
import type { FileRef } from './common';
import type { ListedFile, ListedObject } from './files';
import { openListing, type ListingHeader } from './files-listing';

/** One listing entry of either store. */
export type ListedAttachment = ListedFile | ListedObject;

/** The entry's name in its store: a folder store's path, a bucket store's key. */
export const attachmentName = (entry: ListedAttachment): string => ('path' in entry ? entry.path : entry.key);

/** The set that stores the entry's bytes: its `set`, else the listing's own set. */
export const storingSet = (thisSet: string, entry: ListedAttachment): string => entry.set ?? thisSet;

/**
 * The destination path of one listed attachment of `node`'s listing in set `thisSet`. Throws
 * ValidationError for an entry naming `thisSet` itself: tandem never writes one (it stores those
 * bytes), so the listing was altered.
 */
export function attachmentPath(thisSet: string, node: string, store: ListingHeader['store'], entry: ListedAttachment): string {
  if (entry.set === thisSet) throw new ValidationError(`files listing of ${node} in ${thisSet}: ${attachmentName(entry)} names this set itself as the set storing it; the listing was altered, the backup set is damaged`);
  if (entry.sealed) return sealedAttachmentPath(storingSet(thisSet, entry), node, entry.sealed.name);
  return attachmentFilePath(storingSet(thisSet, entry), node, store, attachmentName(entry));
}

/** One attachment a listing needs, where it is and what it must hold. */
export interface AttachmentAt {
  /** Destination path of its bytes. */
  path: string;
  size: number;
  sha256: string;
  /** The set storing it (`thisSet` for the listing's own). */
  set: string;
  /** The entry's path or key in the store. */
  name: string;
  /** In an encrypted set: the opaque name and the stored ciphertext's (`path` + `.age`) size and sha256. */
  sealed?: { name: string; size: number; sha256: string };
}

/**
 * Every attachment the listing `ref` names (of `node` in `thisSet`), its own and earlier sets',
 * read line by line from the destination: the listing is never held whole. Throws
 * ValidationError, possibly after some were handed out, for a damaged listing (ListingReader).
 */
export async function* listingAttachments(dest: Destination, ref: FileRef, thisSet: string, node: string): AsyncGenerator<AttachmentAt> {
  const { header, records } = await openListing(() => dest.get(ref.path), ref, thisSet);
  for await (const r of records) {
    const e = 'file' in r ? r.file : 'object' in r ? r.object : null;
    if (e) yield { path: attachmentPath(thisSet, node, header.store, e), size: e.size, sha256: e.sha256, set: storingSet(thisSet, e), name: attachmentName(e), ...(e.sealed ? { sealed: e.sealed } : {}) };
  }
}
