/**
 * File operations under a root folder that never follow a symbolic link. The folders they work
 * in (a local or NFS destination, a files restore target) can be written by others while a root
 * process works there: a path checked with lstat and then used by name can be swapped for a link
 * in between. So a path is walked one folder at a time, each opened with O_DIRECTORY|O_NOFOLLOW,
 * and the last name is used relative to the opened folder through /proc/self/fd/<fd>/<name>
 * (Linux): only that name is resolved, inside the folder already opened, and files are opened
 * with O_NOFOLLOW. What is changed (owner, mode, times) is changed on the opened handle.
 *
 * The root itself is the operator's configuration and may be a link (a mount point reached
 * through /backup -> /mnt/nfs); everything under it may not. A link is refused with its path
 * relative to the root and nothing else about it: no target, size or digest.
 */
import { constants as C, promises as fs, type Dirent, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { NotFoundError, ValidationError } from './errors';

/** A symbolic link was found where a folder or a file was expected; `path` is relative to the root. */
export class LinkRefusedError extends ValidationError {}

/** A path's folder part holds something other than a folder (a file, a socket). */
export class NotAFolderError extends ValidationError {}

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
// O_NONBLOCK: a planted FIFO must not hang the open; it is then refused as not a regular file.
const READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
/** Deeper trees are refused by removeTree and walk: each level holds one open folder. */
const MAX_DEPTH = 64;
/** Sibling folders removed at once per level; levels multiply, so this stays small (open handles). */
const TREE_CONCURRENCY = 4;

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

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

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

const toStat = (st: Stats): NoFollowStat => ({
  kind: st.isFile() ? 'file' : st.isDirectory() ? 'folder' : 'other',
  size: st.size, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid, mode: st.mode,
});

/** A folder whose contents are reached without following links. */
export class NoFollowRoot {
  /**
   * @param root absolute folder (may itself be a link: it is configuration)
   * @param label names the root in messages, e.g. `local:/backup`; default the root
   * @param opts.strictRoot the root's own path is walked from `/` without following links too
   *   (a restore target whose real path was just checked: a link swapped in since is refused)
   */
  constructor(readonly root: string, readonly label: string = root, private readonly opts: { strictRoot?: boolean } = {}) {
    if (!root.startsWith('/')) throw new ValidationError(`root ${JSON.stringify(root)} must be absolute`);
  }

  private linkRefused(rel: string): LinkRefusedError {
    return new LinkRefusedError(`${this.label}: ${rel} is a symbolic link: tandem never follows links here; remove it, or replace it with the folder or file it stands for`, { path: rel });
  }

  /** Turns an open/mkdir failure on `name` in `dir` into a typed error naming `rel`. */
  private async explain(dir: FileHandle, name: string, rel: string, err: unknown): Promise<unknown> {
    const code = codeOf(err);
    if (code === 'ELOOP') return this.linkRefused(rel);
    if (code === 'ENOENT') return new NotFoundError(`${this.label}: ${rel} does not exist`, { path: rel });
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      const st = await fs.lstat(inDir(dir, name)).catch(() => null);
      if (st?.isSymbolicLink()) return this.linkRefused(rel);
      return new NotAFolderError(`${this.label}: ${rel} is not a folder`, { path: rel });
    }
    return err;
  }

  /** Opens the root folder (following a link there: it is configuration). */
  private async openRoot(): Promise<FileHandle> {
    if (this.opts.strictRoot) return this.openRootStrict();
    try {
      return await fs.open(this.root, C.O_RDONLY | C.O_DIRECTORY);
    } catch (err) {
      if (codeOf(err) === 'ENOENT') throw new NotFoundError(`${this.label}: folder ${this.root} does not exist`, { path: this.root });
      if (codeOf(err) === 'ENOTDIR') throw new NotAFolderError(`${this.label}: ${this.root} is not a folder`, { path: this.root });
      throw err;
    }
  }

  /** Opens the root walking its path from `/`, each folder with O_NOFOLLOW. */
  private async openRootStrict(): Promise<FileHandle> {
    let dir = await fs.open('/', C.O_RDONLY | C.O_DIRECTORY);
    let done = '';
    try {
      for (const seg of this.root.split('/').filter(Boolean)) {
        done = `${done}/${seg}`;
        let next: FileHandle;
        try {
          next = await fs.open(inDir(dir, seg), DIR_FLAGS);
        } catch (err) {
          if (codeOf(err) === 'ELOOP') throw new LinkRefusedError(`${this.label}: ${done} is a symbolic link: refused; give the folder's real path`, { path: done });
          if (codeOf(err) === 'ENOENT') throw new NotFoundError(`${this.label}: folder ${this.root} does not exist`, { path: this.root });
          if (codeOf(err) === 'ENOTDIR') throw new NotAFolderError(`${this.label}: ${done} is not a folder`, { path: done });
          throw err;
        }
        await dir.close();
        dir = next;
      }
      return dir;
    } catch (err) {
      await dir.close().catch(() => undefined);
      throw err;
    }
  }

  /** Opens `name` inside the open folder `dir` as a folder, making it (mode) when missing and asked to. */
  private async openChild(dir: FileHandle, name: string, rel: string, mode?: number): Promise<FileHandle> {
    try {
      return await fs.open(inDir(dir, name), DIR_FLAGS);
    } catch (err) {
      if (codeOf(err) !== 'ENOENT' || mode === undefined) throw await this.explain(dir, name, rel, err);
    }
    // mkdir never follows a link at its last name (EEXIST), and the open below refuses one.
    await fs.mkdir(inDir(dir, name), { mode }).catch((err) => {
      if (codeOf(err) !== 'EEXIST') throw err;
    });
    try {
      return await fs.open(inDir(dir, name), DIR_FLAGS);
    } catch (err) {
      throw await this.explain(dir, name, rel, err);
    }
  }

  /** Walks `segs` from the root, one O_NOFOLLOW open per folder; `mode` set = make missing folders. The caller closes the result. */
  private async walkTo(segs: string[], mode?: number): Promise<FileHandle> {
    let dir = await this.openRoot();
    let done = '';
    try {
      for (const seg of segs) {
        done = done ? `${done}/${seg}` : seg;
        const next = await this.openChild(dir, seg, done, mode);
        await dir.close();
        dir = next;
      }
      return dir;
    } catch (err) {
      await dir.close().catch(() => undefined);
      throw err;
    }
  }

  /** Opens the folder at `rel` ('' = the root); the caller closes it. NotFoundError when absent. */
  openDir(rel: string): Promise<FileHandle> {
    return this.walkTo(segmentsOf(rel));
  }

  /** Makes the folders of `rel` that are missing (mode, default 0o750) and opens the last; the caller closes it. */
  mkdirp(rel: string, mode = 0o750): Promise<FileHandle> {
    return this.walkTo(segmentsOf(rel), mode);
  }

  /** Runs fn with the folder holding `rel`'s last name open, and that name. */
  private async inParent<T>(rel: string, fn: (dir: FileHandle, name: string) => Promise<T>, mkdirMode?: number): Promise<T> {
    const segs = segmentsOf(rel);
    if (segs.length === 0) throw new ValidationError(`${this.label}: an empty path names no file`);
    const dir = await this.walkTo(segs.slice(0, -1), mkdirMode);
    try {
      return await fn(dir, segs[segs.length - 1]);
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  /** Opens a regular file inside `dir` without following a link; refuses anything else. */
  private async openFileIn(dir: FileHandle, name: string, rel: string, flags: number): Promise<{ handle: FileHandle; st: Stats }> {
    let handle: FileHandle;
    try {
      handle = await fs.open(inDir(dir, name), flags);
    } catch (err) {
      if (codeOf(err) === 'EISDIR') throw new NotFoundError(`${this.label}: ${rel} is a folder, not a file`, { path: rel });
      throw await this.explain(dir, name, rel, err);
    }
    const st = await handle.stat();
    if (st.isDirectory()) {
      await handle.close();
      throw new NotFoundError(`${this.label}: ${rel} is a folder, not a file`, { path: rel });
    }
    if (!st.isFile()) {
      await handle.close();
      throw new ValidationError(`${this.label}: ${rel} is not a regular file: refused`, { path: rel });
    }
    return { handle, st };
  }

  /**
   * Opens the regular file at `rel` for reading, never through a link; with maxBytes, refuses a
   * larger file from the opened handle's size before anything is read. The caller closes it.
   */
  async openRead(rel: string, opts: { maxBytes?: number } = {}): Promise<{ handle: FileHandle; size: number }> {
    return this.inParent(rel, async (dir, name) => {
      const { handle, st } = await this.openFileIn(dir, name, rel, READ_FLAGS);
      if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
        await handle.close();
        throw new ValidationError(`${this.label}: ${rel} is larger than the ${opts.maxBytes} bytes allowed for it: refused; the file was changed or planted`, { path: rel, maxBytes: opts.maxBytes });
      }
      return { handle, size: st.size };
    });
  }

  /** Opens the regular file at `rel` for changing its owner, mode or times (never through a link); the caller closes it. */
  async openExisting(rel: string): Promise<FileHandle> {
    return this.inParent(rel, async (dir, name) => (await this.openFileIn(dir, name, rel, READ_FLAGS)).handle);
  }

  /** The whole regular file at `rel`, at most maxBytes: checked on the handle before reading and again while reading (a growing file). */
  async readSmall(rel: string, maxBytes: number): Promise<Buffer> {
    const { handle } = await this.openRead(rel, { maxBytes });
    try {
      const buf = Buffer.alloc(maxBytes + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buf, got, buf.length - got, null);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got > maxBytes) throw new ValidationError(`${this.label}: ${rel} is larger than the ${maxBytes} bytes allowed for it: refused; the file was changed or planted`, { path: rel, maxBytes });
      }
      return buf.subarray(0, got);
    } finally {
      await handle.close();
    }
  }

  /** lstat of `rel` reached without following links; null when absent (or a folder part is missing or not a folder); a link anywhere throws LinkRefusedError. */
  async stat(rel: string): Promise<NoFollowStat | null> {
    if (segmentsOf(rel).length === 0) {
      const h = await this.openRoot();
      try {
        return toStat(await h.stat());
      } finally {
        await h.close();
      }
    }
    try {
      return await this.inParent(rel, async (dir, name) => {
        const st = await fs.lstat(inDir(dir, name)).catch((err) => {
          if (codeOf(err) === 'ENOENT') return null;
          throw err;
        });
        if (st?.isSymbolicLink()) throw this.linkRefused(rel);
        return st && toStat(st);
      });
    } catch (err) {
      if (err instanceof NotFoundError || (err instanceof NotAFolderError)) return null;
      throw err;
    }
  }

  /**
   * Creates a file that appears at `rel` only on commit(): written under a hidden temporary name
   * in the same opened folder (O_CREAT|O_EXCL|O_NOFOLLOW), then renamed there. Missing folders are
   * made (dirMode). With `tempName`, that fixed name is used and any old file or link there is
   * removed first (a crashed run's debris); default `.<name>.<random>.partial`.
   */
  async create(rel: string, opts: { mode?: number; dirMode?: number; tempName?: string } = {}): Promise<NewFile> {
    const segs = segmentsOf(rel);
    if (segs.length === 0) throw new ValidationError(`${this.label}: an empty path names no file`);
    const name = segs[segs.length - 1];
    const tmp = opts.tempName ?? `.${name}.${randomBytes(6).toString('hex')}.partial`;
    segmentsOf(tmp);
    if (tmp.includes('/')) throw new ValidationError(`temporary name ${JSON.stringify(tmp)} must be one name`);
    const dir = await this.walkTo(segs.slice(0, -1), opts.dirMode ?? 0o750);
    let handle: FileHandle;
    try {
      if (opts.tempName !== undefined) await unlinkIfThere(inDir(dir, tmp));
      handle = await fs.open(inDir(dir, tmp), CREATE_FLAGS, opts.mode ?? 0o640);
    } catch (err) {
      await dir.close().catch(() => undefined);
      throw codeOf(err) === 'EEXIST' || codeOf(err) === 'ELOOP' ? this.linkRefused(segs.slice(0, -1).concat(tmp).join('/')) : err;
    }
    let settled = false;
    return {
      handle,
      commit: async ({ sync = true } = {}) => {
        if (settled) throw new Error('NewFile settled twice');
        settled = true;
        try {
          if (sync) await handle.sync();
          await handle.close();
          // rename(2) replaces a link at the final name rather than following it; a folder there fails.
          await fs.rename(inDir(dir, tmp), inDir(dir, name)).catch(async (err) => {
            throw codeOf(err) === 'EISDIR' || codeOf(err) === 'ENOTEMPTY' ? new ValidationError(`${this.label}: ${rel} is a folder, not a file: refused`, { path: rel }) : err;
          });
          // Some file systems (and NFS clients) refuse fsync on a folder; the data itself is synced.
          if (sync) await dir.sync().catch(() => undefined);
        } catch (err) {
          await unlinkIfThere(inDir(dir, tmp)).catch(() => undefined);
          throw err;
        } finally {
          await dir.close().catch(() => undefined);
        }
      },
      discard: async () => {
        if (settled) return;
        settled = true;
        await handle.close().catch(() => undefined);
        await unlinkIfThere(inDir(dir, tmp)).catch(() => undefined);
        await dir.close().catch(() => undefined);
      },
    };
  }

  /** Writes `data` to `rel` through create(): readers see the old content or the new, never a torn file. */
  async writeFile(rel: string, data: Buffer | string, opts: { mode?: number; dirMode?: number } = {}): Promise<void> {
    const f = await this.create(rel, opts);
    try {
      await f.handle.writeFile(data);
    } catch (err) {
      await f.discard();
      throw err;
    }
    await f.commit();
  }

  /** Removes the file or link at `rel` (a link is removed, never followed); no error when absent; a folder is refused. */
  async remove(rel: string): Promise<void> {
    try {
      await this.inParent(rel, (dir, name) => fs.unlink(inDir(dir, name)).catch((err) => {
        if (codeOf(err) === 'ENOENT') return;
        if (codeOf(err) === 'EISDIR' || codeOf(err) === 'EPERM') throw new ValidationError(`${this.label}: ${rel} is a folder: use removeTree`, { path: rel });
        throw err;
      }));
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  /**
   * Removes the file, link or folder tree at `rel` ('' refused). A link, at the top or anywhere
   * below, is unlinked and never descended; a link in the folders leading to `rel` is refused.
   * Every file of a folder is unlinked at once (NFS waits far longer than it works).
   */
  async removeTree(rel: string): Promise<void> {
    if (segmentsOf(rel).length === 0) throw new ValidationError(`${this.label}: refusing to remove the whole root`);
    try {
      await this.inParent(rel, (dir, name) => removeEntry(dir, name, rel, 0, this.label));
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  /**
   * Visits every entry under the folder `rel`, depth first in name order, never entering a link.
   * `visit` returns false to skip a folder's contents. Links are handed to visit like any entry
   * (dirent.isSymbolicLink()): the caller decides whether one is refused.
   */
  async walk(rel: string, visit: (e: WalkEntry) => Promise<boolean | void> | boolean | void): Promise<void> {
    const top = await this.openDir(rel);
    const label = this.label;
    const go = async (dir: FileHandle, relDir: string, depth: number): Promise<void> => {
      if (depth > MAX_DEPTH) throw new ValidationError(`${label}: ${relDir} is more than ${MAX_DEPTH} folders deep: refused`, { path: relDir });
      const entries = (await fs.readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const d of entries) {
        const path = relDir ? `${relDir}/${d.name}` : d.name;
        const enter = await visit({ path, dirent: d, dir });
        if (!d.isDirectory() || enter === false) continue;
        let child: FileHandle;
        try {
          child = await fs.open(inDir(dir, d.name), DIR_FLAGS);
        } catch (err) {
          // Gone since the listing, or swapped for a link or a file: not entered.
          if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(codeOf(err) ?? '')) {
            if (codeOf(err) === 'ELOOP') throw new LinkRefusedError(`${label}: ${path} is a symbolic link: tandem never follows links here; remove it, or replace it with the folder or file it stands for`, { path });
            continue;
          }
          throw err;
        }
        try {
          await go(child, path, depth + 1);
        } finally {
          await child.close().catch(() => undefined);
        }
      }
    };
    try {
      await go(top, rel, 1);
    } finally {
      await top.close().catch(() => undefined);
    }
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  await fs.unlink(path).catch((err) => {
    if (codeOf(err) !== 'ENOENT') throw err;
  });
}

/** Removes `name` in the open folder `dir`: a folder's tree through its own opened handle, anything else (a link included) by unlink. */
async function removeEntry(dir: FileHandle, name: string, rel: string, depth: number, label: string): Promise<void> {
  let child: FileHandle;
  try {
    child = await fs.open(inDir(dir, name), DIR_FLAGS);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT') return;
    // A link (ELOOP) or a file (ENOTDIR): unlinked by name, which never follows it.
    if (code === 'ELOOP' || code === 'ENOTDIR') return unlinkIfThere(inDir(dir, name));
    throw err;
  }
  try {
    if (depth > MAX_DEPTH) throw new ValidationError(`${label}: ${rel} is more than ${MAX_DEPTH} folders deep: refused`, { path: rel });
    const entries = await fs.readdir(`/proc/self/fd/${child.fd}`, { withFileTypes: true });
    const folders = entries.filter((e) => e.isDirectory());
    const others = entries.filter((e) => !e.isDirectory());
    const settled = await Promise.allSettled(others.map((e) => unlinkIfThere(inDir(child, e.name)).catch((err) => {
      // Listed as a file but a folder by now: removed as a tree.
      if (codeOf(err) === 'EISDIR' || codeOf(err) === 'EPERM') return removeEntry(child, e.name, `${rel}/${e.name}`, depth + 1, label);
      throw err;
    })));
    let next = 0;
    const worker = async () => {
      while (next < folders.length) {
        const e = folders[next++];
        await removeEntry(child, e.name, `${rel}/${e.name}`, depth + 1, label);
      }
    };
    const trees = await Promise.allSettled(Array.from({ length: Math.min(TREE_CONCURRENCY, folders.length) }, worker));
    const failed = [...settled, ...trees].find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await child.close().catch(() => undefined);
  }
  // rmdir never follows a link at its name: a folder swapped for a link meanwhile fails here, harmlessly.
  await fs.rmdir(inDir(dir, name)).catch((err) => {
    if (codeOf(err) !== 'ENOENT') throw err;
  });
}
