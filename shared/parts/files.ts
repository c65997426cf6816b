/**
 * The files role's records. TheHive's attachments can number in the millions: they are listed,
 * with sha256, owners and modes, in `<id>/<node>/files/listing.json` at the destination, and the
 * part in the manifest keeps counts and a reference to that listing.
 */
import { z } from 'zod';
import { BACKUP_ID, nameSchema } from '../names';
import { SEALED_ATTACHMENT_NAME } from '../destination/layout';
import { sha256 as sha256Hex, destPath, epochMs, fileRef } from './common';

/** The earlier set that stores an attachment this set did not copy again (absent: this set stores it). */
const storedIn = nameSchema('backup id', BACKUP_ID).optional();

/**
 * In an encrypted set, the attachment's stored file: its opaque name (stored as
 * `<set>/<node>/files/sealed/<2 hex>/<name>.age`, encrypted to the set key of the set storing it)
 * and the ciphertext's size and sha256, so a reader holding the set key checks the bytes at the
 * destination before decrypting them. Absent in a clear set.
 */
const sealedAs = z.strictObject({ name: z.string().regex(SEALED_ATTACHMENT_NAME), size: z.int().nonnegative(), sha256: sha256Hex }).optional();

/**
 * What Commit recorded: the instant of the cut, and for a bucket the count of its listing taken
 * then. A folder store is walked right after Commit, at the start of ship (a walk of a million
 * files takes longer than a Commit may wait): its counts are in the part and the listing, and
 * absent here (present in sets written before).
 */
export const filesCommitSchema = z.strictObject({
  cutAt: epochMs,
  store: z.enum(['localfs', 's3']),
  location: z.string(),
  fileCount: z.int().nonnegative().optional(),
  bytes: z.int().nonnegative().optional(),
});

/** How many files did not make it as cut, and a few of them. */
const deviations = z.strictObject({
  changed: z.int().nonnegative(),
  missing: z.int().nonnegative(),
  unstorable: z.int().nonnegative(),
  /** Up to 20 paths of each kind, for the operator. */
  examples: z.array(z.string()).max(60),
});

/** The files part of one node. */
export const filesPartSchema = z.strictObject({
  store: z.enum(['localfs', 's3']),
  location: z.string(),
  /** Files this set stores, and their bytes (the listing itself and attachments kept by earlier sets not included). */
  fileCount: z.int().nonnegative(),
  bytes: z.int().nonnegative(),
  deviations,
  summary: z.string(),
  /** The listing of every stored file. */
  listing: fileRef,
  /**
   * Attachments of the cut that earlier sets store and this set's listing names instead of
   * copying them again (absent in a part written before sets were incremental: none).
   */
  referenced: z.strictObject({ files: z.int().nonnegative(), bytes: z.int().nonnegative() }).optional(),
  /**
   * The earlier sets storing attachments the listing names (their `set`), in an encrypted set
   * only: its listing opens only with the set key, and these say, without it, which sets' keys a
   * restore needs and which sets' attachments retention must keep.
   */
  storedIn: z.array(nameSchema('backup id', BACKUP_ID)).max(10_000).optional(),
});

/**
 * A relative path inside the store, held to the destination's path rules (no `..`, no absolute
 * path, no dot or dash segment, no control character): it names both a file at the destination
 * and one in the restore target. Names that could not be stored this way were left out at backup
 * (reported as unstorable), so a listing holding one was not written by tandem.
 */
const storePath = destPath;

/** A file of a folder store, as listed at backup time. */
export const listedFileSchema = z.strictObject({
  path: storePath,
  size: z.int().nonnegative(),
  mtimeMs: z.number(),
  mode: z.int().min(0).max(0o7777),
  uid: z.int().nonnegative(),
  gid: z.int().nonnegative(),
  /**
   * The file's inode at the cut, so the next set can tell the same file from one replaced under
   * the same name, size and mtime (absent when the inode is beyond 2^53, which a number cannot hold).
   */
  ino: z.int().nonnegative().optional(),
  sha256: sha256Hex,
  set: storedIn,
  sealed: sealedAs,
});

/** A folder of a folder store ('' is the root), so restore can recreate owners and modes. */
export const listedDirSchema = z.strictObject({
  path: z.union([z.literal(''), storePath]),
  mode: z.int().min(0).max(0o7777),
  uid: z.int().nonnegative(),
  gid: z.int().nonnegative(),
});

/** An object of a bucket store. */
export const listedObjectSchema = z.strictObject({
  key: storePath,
  size: z.int().nonnegative(),
  etag: z.string().optional(),
  sha256: sha256Hex,
  set: storedIn,
  sealed: sealedAs,
});

/** What did not make it as cut, in full. */
const report = {
  changed: z.array(z.looseObject({ path: z.string() })),
  missing: z.array(z.string()),
  unstorable: z.array(z.strictObject({ path: z.string(), reason: z.string() })),
  summary: z.string(),
};

/** `listing.json`: every stored file with what restore needs. */
export const filesListingSchema = z.discriminatedUnion('store', [
  z.strictObject({
    format: z.literal('tandem.files-listing/v2'),
    cutAt: epochMs,
    store: z.literal('localfs'),
    location: z.string(),
    files: z.array(listedFileSchema),
    dirs: z.array(listedDirSchema),
    ...report,
  }),
  z.strictObject({
    format: z.literal('tandem.files-listing/v2'),
    cutAt: epochMs,
    store: z.literal('s3'),
    bucket: z.string(),
    endpoint: z.string().optional(),
    objects: z.array(listedObjectSchema),
    ...report,
  }),
]);

export type FilesCommit = z.output<typeof filesCommitSchema>;
export type FilesPart = z.output<typeof filesPartSchema>;
export type FilesListing = z.output<typeof filesListingSchema>;
export type ListedFile = z.output<typeof listedFileSchema>;
export type ListedDir = z.output<typeof listedDirSchema>;
export type ListedObject = z.output<typeof listedObjectSchema>;
