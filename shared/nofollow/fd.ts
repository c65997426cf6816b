/**
 * The primitives of shared/nofollow: the flags every open uses, the path of a name inside an
 * opened folder, the typed refusals, and the checks on a relative path.
 */
import { constants as C, type Dirent, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { ValidationError } from '../errors';

/** A symbolic link was found where a folder or a file was expected; `path` is relative to the root. */
export class LinkRefusedError extends ValidationError {}

/** A path's folder part holds something other than a folder (a file, a socket). */
export class NotAFolderError extends ValidationError {}

/** A folder opened without following a link at its name. */
export const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
// O_NONBLOCK: a planted FIFO must not hang the open; it is then refused as not a regular file.
export const READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
export const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
/** Deeper trees are refused by removeTree and walk: each level holds one open folder. */
export const MAX_DEPTH = 64;
/** Sibling folders removed at once per level; levels multiply, so this stays small (open handles). */
export const TREE_CONCURRENCY = 4;

/** The path naming `name` inside the folder opened as `dir`; only `name` is resolved by the kernel. */
export const inDir = (dir: FileHandle, name: string): string => `/proc/self/fd/${dir.fd}/${name}`;

/** A writable stream over an open file handle that leaves the handle open (it is committed after). */
export function handleSink(handle: FileHandle): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      handle.write(chunk).then(() => cb(), cb);
    },
  });
}

/** An error's errno code. */
export const codeOf = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/**
 * The segments of a path relative to the root; '' is the root itself. Refused: absolute paths,
 * empty segments, '.', '..', NUL.
 */
export function segmentsOf(rel: string): string[] {
  if (typeof rel !== 'string') throw new ValidationError('path must be a string');
  if (rel === '') return [];
  if (rel.startsWith('/')) throw new ValidationError(`path ${JSON.stringify(rel)} is absolute: only paths relative to the folder are accepted`, { path: rel });
  if (rel.includes('\0')) throw new ValidationError(`path ${JSON.stringify(rel)} contains NUL`, { path: rel });
  const segs = rel.split('/');
  for (const s of segs) {
    if (s === '' || s === '.' || s === '..') throw new ValidationError(`path ${JSON.stringify(rel)} has a segment ${JSON.stringify(s)}: refused`, { path: rel });
  }
  return segs;
}

/** What stat() found: lstat's view, a link never being one of the answers (it is refused). */
export interface NoFollowStat {
  kind: 'file' | 'folder' | 'other';
  size: number;
  mtimeMs: number;
  uid: number;
  gid: number;
  mode: number;
}

/** A file being written under a temporary name; it appears under its final name on commit(). */
export interface NewFile {
  /** The open file (O_CREAT|O_EXCL|O_NOFOLLOW): write, chown, chmod, utimes through it. */
  handle: FileHandle;
  /** Flushes it (unless `sync: false`), closes it and renames it to its final name within the folder it was created in. */
  commit(opts?: { sync?: boolean }): Promise<void>;
  /** Closes and removes the temporary file; never throws. */
  discard(): Promise<void>;
}

/** One entry met by walk(): its path relative to the root, and its type from the folder listing. */
export interface WalkEntry {
  path: string;
  dirent: Dirent;
  /** The folder holding it, open; valid only until the visit's promise settles. */
  dir: FileHandle;
}

/** stat()'s answer from a Stats. */
export const toStat = (st: Stats): NoFollowStat => ({
  kind: st.isFile() ? 'file' : st.isDirectory() ? 'folder' : 'other',
  size: st.size, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid, mode: st.mode,
});

