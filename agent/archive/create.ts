/**
 * Builds one table's snapshot archive: a tar of the snapshot folder, named like GNU
 * `tar c -C <dir> .` (./, ./file, ./sub/) so the vendor's manual restore (`tar xjf`) keeps working,
 * compressed with a parallel bzip2 (or xz / nothing). Every source byte is read once: file
 * checksums, the archive checksum and sizes are computed while streaming.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { ValidationError } from '../../shared/errors';
import { spawnProcess, type ProcessSpawner, type RunningProcess } from '../../shared/exec';
import { HashingPassThrough } from './checksum';
import {
  abortError, bzip2Argv, defaultThreads, failureGroup, pickError, xzEncoder,
  type Bzip2Program, type Compression,
} from './tools';

/** One regular file inside an archive; path is relative, '/'-separated, without the leading './'. */
export interface ArchivedFile {
  path: string;
  size: number;
  sha256: string;
}

/** Options of createArchive. */
export interface CreateArchiveOptions {
  /** Folder to archive (e.g. a table's snapshots/<tag>); may hold only directories and regular files. */
  sourceDir: string;
  /** A path (written to `<path>.partial`, renamed when complete) or a stream (ended when done, destroyed on failure). */
  output: Writable | string;
  compression: Compression;
  /** Compressor threads; default: the number of usable CPUs. */
  threads?: number;
  /** Aborting kills the compressor and removes `<path>.partial`. */
  signal?: AbortSignal;
  /** Called as source bytes are read, with the running total of file bytes. */
  onProgress?(bytesIn: number): void;
  /** Force a bzip2 program; default: lbzip2, else pbzip2, else bzip2. */
  bzip2Program?: Bzip2Program;
  /** xz preset 0-9; default 6 (as `xz`). */
  xzPreset?: number;
  /** Starts the bzip2 program; default spawnProcess (a seam for tests). */
  spawn?: ProcessSpawner;
  /** Only these files (relative paths) go into the archive; default: every file. Folders are always kept. */
  include?: ReadonlySet<string>;
}

/** What createArchive wrote. */
export interface CreateArchiveResult {
  files: ArchivedFile[];
  /** Sum of the archived files' sizes (file content only, not tar headers). */
  bytesIn: number;
  /** Size of the (compressed) archive. */
  bytesOut: number;
  /** Hex sha256 of the (compressed) archive. */
  sha256: string;
}

interface Item {
  rel: string;
  abs: string;
  st: Stats;
}

/** Lists the tree depth-first in byte order, refusing anything but directories and regular files. */
async function walk(root: string): Promise<Item[]> {
  const st = await lstat(root);
  if (!st.isDirectory()) throw new ValidationError(`archive source ${root} is not a directory`, { path: root });
  const items: Item[] = [{ rel: '', abs: root, st }];
  const visit = async (dir: string, rel: string): Promise<void> => {
    const names = (await readdir(dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const s = await lstat(abs);
      if (s.isDirectory()) {
        items.push({ rel: r, abs, st: s });
        await visit(abs, r);
      } else if (s.isFile()) {
        items.push({ rel: r, abs, st: s });
      } else {
        // A snapshot holds only hard links to SSTables; anything else would not restore as-is.
        const kind = s.isSymbolicLink() ? 'a symlink' : 'a device, fifo or socket';
        throw new ValidationError(`refusing to archive ${abs}: it is ${kind}, not a regular file`, { path: abs });
      }
    }
  };
  await visit(root, '');
  return items;
}

/** Streams sourceDir as a tar (bzip2/xz/none) into output; resolves with per-file and archive sha256. */
export async function createArchive(opts: CreateArchiveOptions): Promise<CreateArchiveResult> {
  const { signal } = opts;
  if (signal?.aborted) throw abortError(signal);
  const threads = opts.threads ?? defaultThreads();
  // Bad sources are refused before any output is created.
  const items = (await walk(opts.sourceDir)).filter((i) => !opts.include || i.st.isDirectory() || opts.include.has(i.rel));
  const bzip2 = opts.compression === 'bzip2' ? await bzip2Argv('compress', threads, opts.bzip2Program) : null;

  const group = failureGroup(signal);
  const { ac, failures, guard } = group;

  const partial = typeof opts.output === 'string' ? `${opts.output}.partial` : null;
  const out: Writable = partial !== null ? createWriteStream(partial, { flush: true }) : (opts.output as Writable);
  // Ours, so a late error after a teardown (write after destroy) must not crash the process; pipeline reports real ones.
  if (partial !== null) out.on('error', () => undefined);
  const pack = tar.pack();
  const hasher = new HashingPassThrough();
  let filter: RunningProcess | undefined;
  ac.signal.addEventListener('abort', () => {
    filter?.kill();
    pack.destroy();
  });

  const files: ArchivedFile[] = [];
  let bytesIn = 0;
  const feed = async (): Promise<void> => {
    for (const { rel, abs, st } of items) {
      const header: Partial<tar.Header> & { name: string } = {
        name: st.isDirectory() ? `./${rel ? `${rel}/` : ''}` : `./${rel}`, // GNU tar's spelling: ./, ./sub/, ./sub/f
        type: st.isDirectory() ? 'directory' : 'file',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: st.mtime,
        size: st.isDirectory() ? 0 : st.size,
      };
      if (st.isDirectory()) {
        // Bodyless entries complete on their own once written.
        await new Promise<void>((res, rej) => pack.entry(header, (err) => (err ? rej(err) : res())));
        continue;
      }
      let entry!: ReturnType<tar.Pack['entry']>;
      const entryDone = new Promise<void>((res, rej) => {
        entry = pack.entry(header, (err) => (err ? rej(err) : res()));
      });
      entryDone.catch(() => undefined); // awaited below; an earlier failure surfaces through the read
      entry.on('error', () => undefined); // reported through the entry callback above
      const hash = createHash('sha256');
      let n = 0;
      for await (const chunk of createReadStream(abs, { signal: ac.signal, highWaterMark: 1 << 20 })) {
        const buf = chunk as Buffer;
        n += buf.length;
        // Growing past the header's size would corrupt the tar; snapshot files are immutable.
        if (n > st.size) throw new ValidationError(`${abs} grew while being archived`, { path: abs });
        hash.update(buf);
        if (!entry.write(buf)) await once(entry, 'drain', { signal: ac.signal });
        bytesIn += buf.length;
        opts.onProgress?.(bytesIn);
      }
      if (n !== st.size) throw new ValidationError(`${abs} shrank while being archived`, { path: abs });
      entry.end(undefined); // streamx's typings demand an argument
      await entryDone;
      files.push({ path: rel, size: n, sha256: hash.digest('hex') });
    }
    pack.finalize();
  };

  const tarBytes = Readable.from(pack, { objectMode: false });
  const tasks = [guard(feed())];
  try {
    if (bzip2) {
      filter = (opts.spawn ?? spawnProcess)(bzip2);
      tasks.push(
        guard(pipeline(tarBytes, filter.stdin, { signal: ac.signal })),
        guard(pipeline(filter.stdout, hasher, out, { signal: ac.signal })),
        guard(filter.done),
      );
    } else {
      const stages = opts.compression === 'xz' ? [xzEncoder(threads, opts.xzPreset)] : [];
      tasks.push(guard(pipeline([tarBytes, ...stages, hasher, out], { signal: ac.signal })));
    }
  } catch (e) {
    group.fail(e);
  }
  await Promise.all(tasks);
  group.dispose();

  if (failures.length > 0) {
    if (partial !== null) {
      // The file may still be opening; remove it only once the stream has closed its descriptor.
      if (!out.closed) await new Promise<void>((res) => out.once('close', () => res()).destroy());
      await rm(partial, { force: true });
    }
    throw pickError(failures, signal);
  }
  if (partial !== null) {
    await rename(partial, opts.output as string);
    await syncDir(dirname(opts.output as string));
  }
  return { files, bytesIn, bytesOut: hasher.bytes, sha256: hasher.digest() };
}

/** fsyncs a directory so a rename into it survives a crash; best effort (some filesystems refuse). */
async function syncDir(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    /* not supported here; the data itself was flushed before the rename */
  }
}
