/**
 * A destination on a local folder or a mounted NFS share. Uploads go to a hidden temporary file
 * in the target folder, are fsynced, then renamed: rename is atomic within a file system, so a
 * reader (or a crash) never sees a half-written archive under its final name.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { dirname, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, PreconditionError, ValidationError, errorMessage } from '../errors';
import type { LocalDestinationConfig } from './config';
import { isHiddenRelPath, joinRoot, relPathProblem, safeRelPath, safeRelPrefix } from './paths';
import { removeTree } from './remove-tree';
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

/** Fsyncs a folder so a rename inside it survives a crash; ignored where unsupported. */
async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r').catch(() => null);
  if (!h) return;
  try {
    await h.sync();
  } catch {
    // Some file systems (and NFS clients) refuse fsync on a directory; the data itself is synced.
  } finally {
    await h.close();
  }
}

/** Destination on a local or NFS-mounted folder. */
export class LocalDestination implements Destination {
  constructor(private readonly config: LocalDestinationConfig) {}

  /** The root folder. */
  get root(): string {
    return this.config.path;
  }

  describe(): string {
    return `local:${this.root}`;
  }

  private abs(relPath: string): string {
    return joinRoot(this.root, safeRelPath(relPath));
  }

  async put(relPath: string, source: string | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const finalPath = this.abs(relPath);
    await fs.mkdir(dirname(finalPath), { recursive: true });
    const tmp = tempSibling(finalPath);
    const counter = byteCounter();
    try {
      const input = typeof source === 'string' ? createReadStream(source) : source;
      await pipeline(input, counter, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }), { signal: opts.signal });
      if (opts.size !== undefined && counter.bytes !== opts.size)
        throw new ValidationError(`upload of ${relPath} stored ${counter.bytes} bytes, expected ${opts.size}`, { path: relPath });
      await syncFile(tmp);
      await fs.rename(tmp, finalPath);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fsyncDir(dirname(finalPath));
    return { size: counter.bytes };
  }

  async get(relPath: string): Promise<Readable> {
    const p = this.abs(relPath);
    // Open first so a missing file is a NotFoundError here, not an 'error' event on the stream later.
    const handle = await fs.open(p, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EISDIR') throw new NotFoundError(`${relPath} does not exist in ${this.describe()}`, { path: relPath });
      throw err;
    });
    return handle.createReadStream();
  }

  async stat(relPath: string): Promise<{ size: number } | null> {
    const st = await fs.stat(this.abs(relPath)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
      throw err;
    });
    return st && st.isFile() ? { size: st.size } : null;
  }

  async list(prefix: string): Promise<DestinationEntry[]> {
    const rel = safeRelPrefix(prefix);
    const out: DestinationEntry[] = [];
    const walk = async (relDir: string): Promise<void> => {
      const entries = await fs.readdir(joinRoot(this.root, relDir), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
        throw err;
      });
      for (const e of entries) {
        const child = relDir ? `${relDir}/${e.name}` : e.name;
        if (isHiddenRelPath(e.name)) continue;
        if (e.isDirectory()) await walk(child);
        else if (e.isFile()) out.push({ path: child, size: (await fs.stat(joinRoot(this.root, child))).size });
      }
    };
    await walk(rel);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async folders(prefix: string): Promise<string[]> {
    const entries = await fs.readdir(joinRoot(this.root, safeRelPrefix(prefix)), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    });
    return entries.filter((e) => e.isDirectory() && !isHiddenRelPath(e.name) && !relPathProblem(e.name)).map((e) => e.name).sort();
  }

  async newestChange(prefix: string): Promise<number | null> {
    let newest: number | null = null;
    const walk = async (abs: string): Promise<void> => {
      const entries = await fs.readdir(abs, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        // Partial uploads count: a transfer still writing one is a set still being written.
        if (e.isDirectory()) await walk(`${abs}/${e.name}`);
        else if (e.isFile()) {
          const m = (await fs.stat(`${abs}/${e.name}`).catch(() => null))?.mtimeMs;
          if (m !== undefined && (newest === null || m > newest)) newest = m;
        }
      }
    };
    await walk(joinRoot(this.root, safeRelPrefix(prefix)));
    return newest;
  }

  async remove(prefix: string): Promise<void> {
    const rel = safeRelPrefix(prefix);
    if (rel === '') throw new ValidationError('refusing to remove the whole destination root', { path: prefix });
    await removeTree(joinRoot(this.root, rel));
  }

  async writeAtomic(relPath: string, data: Buffer | string): Promise<void> {
    await this.put(relPath, Readable.from([Buffer.from(data)]));
  }

  async checkWritable(): Promise<void> {
    const st = await fs.stat(this.root).catch(() => null);
    if (!st || !st.isDirectory())
      throw new PreconditionError(`destination folder ${this.root} does not exist: create it (or mount the NFS share there) on every node that writes to it`, { path: this.root });
    const probe = `${this.root === '/' ? '' : this.root}/.tandem-probe-${randomBytes(6).toString('hex')}`;
    try {
      await fs.writeFile(probe, 'tandem write probe\n', { flag: 'wx' });
      await syncFile(probe);
    } catch (err) {
      throw new PreconditionError(`cannot write to destination folder ${this.root} (${errorMessage(err)}): make it writable by the user running tandem (uid ${process.getuid?.() ?? '?'})`, { path: this.root }, { cause: err });
    } finally {
      await fs.rm(probe, { force: true });
    }
  }
}

/** Flushes a file's data to stable storage. */
async function syncFile(path: string): Promise<void> {
  const h = await fs.open(path, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
