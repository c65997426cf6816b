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
import { constants as C, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { NotFoundError, ValidationError } from '../errors';
import { CREATE_FLAGS, DIR_FLAGS, LinkRefusedError, NotAFolderError, READ_FLAGS, codeOf, inDir, segmentsOf, toStat, type NewFile, type NoFollowStat, type WalkEntry } from './fd';
import { removeEntry, unlinkIfThere, walkFolder } from './tree';

export { LinkRefusedError, NotAFolderError, handleSink, inDir, segmentsOf, type NewFile, type NoFollowStat, type WalkEntry } from './fd';

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
    let done = '';
    return descend(await fs.open('/', C.O_RDONLY | C.O_DIRECTORY), this.root.split('/').filter(Boolean), async (dir, seg) => {
      done = `${done}/${seg}`;
      try {
        return await fs.open(inDir(dir, seg), DIR_FLAGS);
      } catch (err) {
        if (codeOf(err) === 'ELOOP') throw new LinkRefusedError(`${this.label}: ${done} is a symbolic link: refused; give the folder's real path`, { path: done });
        if (codeOf(err) === 'ENOENT') throw new NotFoundError(`${this.label}: folder ${this.root} does not exist`, { path: this.root });
        if (codeOf(err) === 'ENOTDIR') throw new NotAFolderError(`${this.label}: ${done} is not a folder`, { path: done });
        throw err;
      }
    });
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
    let done = '';
    return descend(await this.openRoot(), segs, (dir, seg) => {
      done = done ? `${done}/${seg}` : seg;
      return this.openChild(dir, seg, done, mode);
    });
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
    try {
      await walkFolder(top, rel, 1, this.label, visit);
    } finally {
      await top.close().catch(() => undefined);
    }
  }
}

/**
 * Opens `segs` one after the other from the open folder `start` with `open`, closing each folder
 * once the next is open; the last is the caller's to close. On a failure every handle is closed.
 */
async function descend(start: FileHandle, segs: readonly string[], open: (dir: FileHandle, seg: string) => Promise<FileHandle>): Promise<FileHandle> {
  let dir = start;
  try {
    for (const seg of segs) {
      const next = await open(dir, seg);
      await dir.close();
      dir = next;
    }
    return dir;
  } catch (err) {
    await dir.close().catch(() => undefined);
    throw err;
  }
}
