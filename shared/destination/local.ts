/**
 * A destination on a local folder or a mounted NFS share. Uploads go to a hidden temporary file
 * in the target folder, are fsynced, then renamed: rename is atomic within a file system, so a
 * reader (or a crash) never sees a half-written archive under its final name.
 *
 * The folder is shared storage that others can write, and the agents reading and writing it run
 * as root: every path under the root is reached through shared/nofollow (each folder opened with
 * O_NOFOLLOW, the last name used inside the opened folder), so a link planted anywhere is refused
 * with its path, or removed without being followed, and never written, read or removed through.
 */
import { constants as C, promises as fs } from 'node:fs';
import { dirname, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileHandle } from 'node:fs/promises';
import { NotFoundError, PreconditionError, ValidationError, errorMessage } from '../errors';
import { AlreadyExistsError, ReplaceBusyError, VersionMismatchError, contentVersion, readVersionedByContent, type Versioned } from './conditional';
import { LinkRefusedError, NoFollowRoot, NotAFolderError, handleSink, inDir } from '../nofollow';
import type { LocalDestinationConfig } from './config';
import { isHiddenRelPath, relPathProblem, safeRelPath, safeRelPrefix } from './paths';
import { checkCap, tooLarge } from './read';
import type { Destination, DestinationEntry, PutOptions, PutResult } from './types';

/** A hidden temporary name next to `finalPath`; list() skips it because it starts with '.'. */
export function tempSibling(finalPath: string): string {
  return `${dirname(finalPath)}/.${basename(finalPath)}.${randomBytes(6).toString('hex')}.partial`;
}

/** A pass-through stream that counts bytes. */
export function byteCounter(): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      t.bytes += chunk.length;
      cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

/** Opens a local source file for put(), refusing a link at its name (it is read as root). */
async function openSource(path: string): Promise<Readable> {
  const h = await fs.open(path, C.O_RDONLY | C.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ELOOP') throw new ValidationError(`${path} is a symbolic link: give the file itself`, { path });
    throw err;
  });
  return h.createReadStream();
}

/** A replace's guard older than this (ms) was left by a replacer that died: removed. A replace takes milliseconds. */
const GUARD_STALE_MS = 60_000;

/** Largest file the conditional writes compare (a lock or a marker, never an archive). */
const CONDITIONAL_MAX_BYTES = 1024 * 1024;

/** The folder part ('' = the root) and the last name of a validated relative path. */
function splitName(rel: string): { parent: string; name: string } {
  const at = rel.lastIndexOf('/');
  return at < 0 ? { parent: '', name: rel } : { parent: rel.slice(0, at), name: rel.slice(at + 1) };
}

/** Writes and flushes a new hidden file `name` in the opened folder (never through a link). */
async function writeHidden(dir: FileHandle, name: string, data: Buffer | string): Promise<void> {
  const h = await fs.open(inDir(dir, name), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o640);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Reads the regular file `name` of the opened folder, refusing a link, anything else, or more than the cap. */
async function readHidden(dir: FileHandle, name: string): Promise<Buffer> {
  const h = await fs.open(inDir(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  try {
    const st = await h.stat();
    if (!st.isFile() || st.size > CONDITIONAL_MAX_BYTES) throw new ValidationError(`${name} is not a small regular file`);
    return await h.readFile();
  } finally {
    await h.close();
  }
}

/** Destination on a local or NFS-mounted folder. */
export class LocalDestination implements Destination {
  private readonly tree: NoFollowRoot;

  constructor(private readonly config: LocalDestinationConfig) {
    this.tree = new NoFollowRoot(config.path, this.describe());
  }

  /** The root folder. */
  get root(): string {
    return this.config.path;
  }

  describe(): string {
    return `local:${this.config.path}`;
  }

  async put(relPath: string, source: string | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const f = await this.tree.create(safeRelPath(relPath), { mode: 0o640 });
    const counter = byteCounter();
    try {
      const input = typeof source === 'string' ? await openSource(source) : source;
      await pipeline(input, counter, handleSink(f.handle), { signal: opts.signal });
      if (opts.size !== undefined && counter.bytes !== opts.size)
        throw new ValidationError(`upload of ${relPath} stored ${counter.bytes} bytes, expected ${opts.size}`, { path: relPath });
    } catch (err) {
      await f.discard();
      throw err;
    }
    await f.commit();
    return { size: counter.bytes };
  }

  async get(relPath: string): Promise<Readable> {
    // Opened here so a missing file is a NotFoundError now, not an 'error' event on the stream later.
    const { handle } = await this.tree.openRead(safeRelPath(relPath));
    return handle.createReadStream();
  }

  async readSmall(relPath: string, maxBytes: number): Promise<Buffer> {
    checkCap(maxBytes);
    try {
      return await this.tree.readSmall(safeRelPath(relPath), maxBytes);
    } catch (err) {
      // One message for every backend; the file's own size is not told.
      if (err instanceof ValidationError && (err.fields as { maxBytes?: number }).maxBytes !== undefined) throw tooLarge(relPath, this.describe(), maxBytes);
      throw err;
    }
  }

  async stat(relPath: string): Promise<{ size: number } | null> {
    const st = await this.tree.stat(safeRelPath(relPath));
    return st?.kind === 'file' ? { size: st.size } : null;
  }

  async list(prefix: string): Promise<DestinationEntry[]> {
    const out: DestinationEntry[] = [];
    try {
      await this.tree.walk(safeRelPrefix(prefix), async ({ path, dirent, dir }) => {
        // Hidden names are partial uploads and probes: never listed, never entered.
        if (isHiddenRelPath(dirent.name)) return false;
        // Listed files are read next: a link among them is refused now, by its path.
        if (dirent.isSymbolicLink()) throw this.linkRefused(path);
        if (!dirent.isFile() || relPathProblem(path)) return;
        const st = await fs.lstat(inDir(dir, dirent.name)).catch(() => null);
        if (st?.isFile()) out.push({ path, size: st.size });
      });
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof NotAFolderError) return [];
      throw err;
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private linkRefused(path: string): LinkRefusedError {
    return new LinkRefusedError(`${this.describe()}: ${path} is a symbolic link: tandem never follows links here; remove it, or replace it with the folder or file it stands for`, { path });
  }

  async folders(prefix: string): Promise<string[]> {
    let dir: FileHandle;
    try {
      dir = await this.tree.openDir(safeRelPrefix(prefix));
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof NotAFolderError) return [];
      throw err;
    }
    try {
      const entries = await fs.readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true });
      // A link is not a folder (Dirent from the listing, never followed): it is no set.
      return entries.filter((e) => e.isDirectory() && !isHiddenRelPath(e.name) && !relPathProblem(e.name)).map((e) => e.name).sort();
    } finally {
      await dir.close();
    }
  }

  async newestChange(prefix: string): Promise<number | null> {
    let newest: number | null = null;
    try {
      await this.tree.walk(safeRelPrefix(prefix), async ({ dirent, dir }) => {
        // Partial uploads count: a transfer still writing one is a set still being written. Links are neither entered nor counted.
        if (!dirent.isFile()) return;
        const m = (await fs.lstat(inDir(dir, dirent.name)).catch(() => null))?.mtimeMs;
        if (m !== undefined && (newest === null || m > newest)) newest = m;
      });
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof NotAFolderError) return null;
      throw err;
    }
    return newest;
  }

  async remove(prefix: string): Promise<void> {
    const rel = safeRelPrefix(prefix);
    if (rel === '') throw new ValidationError('refusing to remove the whole destination root', { path: prefix });
    await this.tree.removeTree(rel);
  }

  async writeAtomic(relPath: string, data: Buffer | string): Promise<void> {
    await this.put(relPath, Readable.from([Buffer.from(data)]));
  }

  readVersioned(relPath: string, maxBytes: number): Promise<Versioned | null> {
    return readVersionedByContent(this, relPath, maxBytes);
  }

  /**
   * Written in full under a hidden name, then link(2)ed to the final name: link fails with
   * EEXIST when the name exists, atomically on a local file system and on NFS (the server
   * decides), where O_EXCL over NFSv2 clients is not to be trusted.
   */
  async createExclusive(relPath: string, data: Buffer | string): Promise<string> {
    const rel = safeRelPath(relPath);
    const { parent, name } = splitName(rel);
    const dir = await this.tree.mkdirp(parent);
    const fresh = `.${name}.${randomBytes(6).toString('hex')}.new`;
    try {
      await writeHidden(dir, fresh, data);
      await fs.link(inDir(dir, fresh), inDir(dir, name)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EEXIST' ? new AlreadyExistsError(`${this.describe()}: ${rel} exists`, { path: rel }) : err;
      });
      await dir.sync().catch(() => undefined);
      return contentVersion(data);
    } finally {
      await fs.unlink(inDir(dir, fresh)).catch(() => undefined);
      await dir.close().catch(() => undefined);
    }
  }

  /**
   * Compare-and-swap without the name ever being absent: the current file is hard-linked to a
   * fixed guard name (link fails with EEXIST while another replace holds the guard, so one
   * replace runs at a time), the guard's content compared, and the new file renamed over the
   * name (atomic: a reader or createExclusive sees the old file or the new, never none). A guard
   * left by a crashed replacer is removed once its ctime is GUARD_STALE_MS old.
   */
  async replaceIf(relPath: string, data: Buffer | string, expectedVersion: string): Promise<string> {
    const rel = safeRelPath(relPath);
    const { parent, name } = splitName(rel);
    const dir = await this.tree.openDir(parent).catch((err) => {
      throw err instanceof NotFoundError || err instanceof NotAFolderError ? this.mismatch(rel, 'it does not exist') : err;
    });
    const fresh = `.${name}.${randomBytes(6).toString('hex')}.new`;
    const guard = `.${name}.replacing`;
    let guarded = false;
    try {
      await writeHidden(dir, fresh, data);
      try {
        await fs.link(inDir(dir, name), inDir(dir, guard));
        guarded = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw this.mismatch(rel, 'it does not exist');
        if (code !== 'EEXIST') throw err;
        const st = await fs.lstat(inDir(dir, guard)).catch(() => null);
        if (st && Date.now() - st.ctimeMs > GUARD_STALE_MS) await fs.unlink(inDir(dir, guard)).catch(() => undefined);
        throw new ReplaceBusyError(`${this.describe()}: ${rel} is being replaced by another writer; try again`, { path: rel });
      }
      const was = await readHidden(dir, guard).catch(() => null);
      if (was === null || contentVersion(was) !== expectedVersion) throw this.mismatch(rel, 'it changed since it was read');
      await fs.rename(inDir(dir, fresh), inDir(dir, name));
      await dir.sync().catch(() => undefined);
      return contentVersion(data);
    } finally {
      await fs.unlink(inDir(dir, fresh)).catch(() => undefined);
      if (guarded) await fs.unlink(inDir(dir, guard)).catch(() => undefined);
      await dir.close().catch(() => undefined);
    }
  }

  private mismatch(rel: string, why: string): VersionMismatchError {
    return new VersionMismatchError(`${this.describe()}: ${rel} was not replaced: ${why}`, { path: rel });
  }

  async checkWritable(): Promise<void> {
    const st = await fs.stat(this.root).catch(() => null);
    if (!st || !st.isDirectory())
      throw new PreconditionError(`destination folder ${this.root} does not exist: create it (or mount the NFS share there) on every node that writes to it`, { path: this.root });
    const probe = `.tandem-probe-${randomBytes(6).toString('hex')}`;
    try {
      await this.tree.writeFile(probe, 'tandem write probe\n');
    } catch (err) {
      throw new PreconditionError(`cannot write to destination folder ${this.root} (${errorMessage(err)}): make it writable by the user running tandem (uid ${process.getuid?.() ?? '?'})`, { path: this.root }, { cause: err });
    } finally {
      await this.tree.remove(probe).catch(() => undefined);
    }
  }
}
