/**
 * Safe extraction of snapshot archives. Archives come back from remote storage and are treated
 * as hostile: every entry is checked (path, type, size) before anything is written for it, only
 * directories and regular files are created, and nothing can land outside targetDir.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, realpath, rm, utimes } from 'node:fs/promises';
import { once } from 'node:events';
import { isAbsolute, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TandemError, ValidationError } from '../../shared/errors';
import { spawnProcess, type ProcessSpawner, type RunningProcess } from '../../shared/exec';
import type { ArchivedFile } from './create';
import {
  abortError, bzip2Argv, defaultThreads, failureGroup, pickError, xzDecoder,
  type Bzip2Program, type Compression,
} from './tools';

/** Options of extractArchive. */
export interface ExtractArchiveOptions {
  /** Path of the archive, or a stream of its bytes. */
  archive: string | Readable;
  /** Folder to extract into; created if missing. Existing files are never overwritten. */
  targetDir: string;
  /** 'auto' sniffs the magic bytes (BZh = bzip2, FD 37 7A 58 5A 00 = xz, else tar). */
  compression: Compression | 'auto';
  /** Largest allowed file entry in bytes; default 64 GiB. */
  maxEntryBytes?: number;
  /** Largest allowed sum of file sizes in bytes; default 1 TiB. */
  maxTotalBytes?: number;
  signal?: AbortSignal;
  /** Decompressor threads (lbzip2/pbzip2); default: the number of usable CPUs. */
  threads?: number;
  /** Force a bzip2 program; default: lbzip2, else pbzip2, else bzip2. */
  bzip2Program?: Bzip2Program;
  /** Starts the bzip2 program; default spawnProcess (a seam for tests). */
  spawn?: ProcessSpawner;
  /** Only these files (relative paths, as in the result) are written; the others are read past. Default: every file. */
  include?: ReadonlySet<string>;
}

/** What extractArchive wrote. */
export interface ExtractArchiveResult {
  files: ArchivedFile[];
}

const GiB = 1024 ** 3;

/** Reads the first bytes of a stream to tell bzip2 / xz / tar apart; returns a stream of all bytes. */
export async function sniffCompression(src: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let n = 0;
  let ended = false;
  while (n < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    n += r.value.length;
  }
  const buf = Buffer.concat(head);
  let compression: Compression = 'none';
  if (buf.length >= 4 && buf.toString('latin1', 0, 3) === 'BZh' && buf[3] >= 0x31 && buf[3] <= 0x39) compression = 'bzip2';
  else if (buf.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) compression = 'xz';
  else if (buf[0] === 0x1f && buf[1] === 0x8b) throw new ValidationError('archive is gzip-compressed; only bzip2, xz and plain tar are supported');
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (buf.length > 0) yield buf;
      while (!ended) {
        const r = await it.next();
        if (r.done) ended = true;
        else yield r.value;
      }
    } finally {
      if (!ended) src.destroy(); // the consumer gave up early
    }
  }
  return { compression, stream: Readable.from(all(), { objectMode: false }) };
}

/** Checks one header and returns its normalized relative path ('' = targetDir itself); throws ValidationError. */
function checkEntry(h: tar.Header, target: string, limits: { maxEntry: number; maxTotal: number; total: number }, include?: ReadonlySet<string>): string {
  const name = h.name;
  const bad = (why: string) => new ValidationError(`refusing archive entry ${JSON.stringify(name)}: ${why}`, { entry: name });
  if (typeof name !== 'string' || name === '') throw bad('empty name');
  if (name.includes('\0')) throw bad('name contains NUL');
  if (name.startsWith('/') || isAbsolute(name)) throw bad('absolute path');
  const parts = name.split('/');
  if (parts.includes('..')) throw bad("path contains a '..' component");
  if (h.type === 'link' || h.type === 'symlink' || h.linkname) throw bad(`it is a ${h.type === 'link' ? 'hard link' : h.type === 'symlink' ? 'symlink' : 'link'}`);
  const isFile = h.type === 'file' || h.type === 'contiguous-file';
  if (!isFile && h.type !== 'directory') throw bad(`unsupported entry type ${String(h.type)}`);
  const rel = parts.filter((p) => p !== '' && p !== '.').join('/');
  const dest = resolve(target, rel);
  if (dest !== target && !dest.startsWith(target + sep)) throw bad('resolves outside the target directory');
  // A file that is read past writes nothing: the limits bound what is written.
  if (isFile && (!include || include.has(rel))) {
    if (rel === '') throw bad('a file cannot replace the target directory');
    const size = h.size ?? 0;
    if (!(size >= 0)) throw bad('invalid size');
    if (size > limits.maxEntry) throw bad(`size ${size} exceeds the per-entry limit of ${limits.maxEntry} bytes`);
    if (limits.total + size > limits.maxTotal) throw bad(`total size would exceed the limit of ${limits.maxTotal} bytes`);
    limits.total += size;
  }
  return rel;
}

/** Parser and decoder failures (truncated tar, xz data error) become ValidationErrors; OS errors and aborts stay as they are. */
function asArchiveError(err: unknown, archive: string | Readable): unknown {
  if (!(err instanceof Error) || err instanceof TandemError || err.name === 'AbortError') return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return err;
  const what = typeof archive === 'string' ? archive : 'archive stream';
  return new ValidationError(`cannot read ${what}: it is truncated or corrupt (${err.message})`, { archive: what }, { cause: err });
}

/** Extracts a tar (bzip2/xz/none/auto) into targetDir, refusing unsafe entries; returns per-file sha256. */
export async function extractArchive(opts: ExtractArchiveOptions): Promise<ExtractArchiveResult> {
  const { signal } = opts;
  if (signal?.aborted) throw abortError(signal);
  const target = resolve(opts.targetDir);
  await mkdir(target, { recursive: true });
  const realTarget = await realpath(target);
  const limits = { maxEntry: opts.maxEntryBytes ?? 64 * GiB, maxTotal: opts.maxTotalBytes ?? 1024 * GiB, total: 0 };

  let source = typeof opts.archive === 'string' ? createReadStream(opts.archive) : opts.archive;
  let compression = opts.compression;
  if (compression === 'auto') ({ compression, stream: source } = await sniffCompression(source));

  const group = failureGroup(signal);
  const { ac, failures, guard } = group;
  const extract = tar.extract();
  let filter: RunningProcess | undefined;
  ac.signal.addEventListener('abort', () => {
    filter?.kill();
    extract.destroy(abortError(ac.signal));
  });

  // Node's pipeline does not speak streamx, so the tar parser is fed by hand with backpressure.
  const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) if (!extract.write(chunk)) await once(extract, 'drain', { signal: ac.signal });
    extract.end(undefined); // streamx's typings demand an argument
  };

  const files: ArchivedFile[] = [];
  const dirs: { path: string; mode: number; mtime: Date }[] = [];
  const knownDirs = new Set<string>([realTarget]);
  /** Creates each missing component below the target; an existing non-directory (e.g. a planted symlink) is refused. */
  const ensureDir = async (entry: string, rel: string, mode = 0o755): Promise<string> => {
    let cur = realTarget;
    for (const part of rel ? rel.split('/') : []) {
      cur = `${cur}${sep}${part}`;
      if (knownDirs.has(cur)) continue;
      const st = await lstat(cur).catch(() => null);
      if (st === null) await mkdir(cur, { mode });
      else if (!st.isDirectory()) {
        throw new ValidationError(`refusing archive entry ${JSON.stringify(entry)}: ${cur} exists and is not a directory`, { entry, path: cur });
      }
      knownDirs.add(cur);
    }
    return cur;
  };

  let current: string | null = null; // file being written, removed if extraction fails midway
  const consume = async (): Promise<void> => {
    for await (const entry of extract) {
      const h = entry.header;
      const rel = checkEntry(h, realTarget, limits, opts.include);
      if (h.type === 'directory') {
        for await (const _ of entry) void _; // no body; drained so the parser moves on
        // Owner keeps rwx so the extraction can fill it; setuid/setgid/sticky bits are dropped.
        const dir = await ensureDir(h.name, rel, (h.mode & 0o777) | 0o700);
        if (rel !== '') {
          await chmod(dir, (h.mode & 0o777) | 0o700);
          dirs.push({ path: dir, mode: h.mode & 0o777, mtime: h.mtime });
        }
        continue;
      }
      if (opts.include && !opts.include.has(rel)) {
        for await (const _ of entry) void _; // another SSTable of an earlier archive: read past it
        continue;
      }
      const slash = rel.lastIndexOf('/');
      const parent = await ensureDir(h.name, slash < 0 ? '' : rel.slice(0, slash));
      const dest = `${parent}${sep}${rel.slice(slash + 1)}`;
      // 'wx' = O_CREAT|O_EXCL: never overwrite, never follow a planted symlink. 0600 until complete.
      const ws = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
      await once(ws, 'open').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') throw new ValidationError(`refusing archive entry ${JSON.stringify(h.name)}: ${dest} already exists`, { entry: h.name });
        throw e;
      });
      current = dest;
      // Errors are re-thrown below; the listener keeps a late one (write after destroy) from crashing the process.
      let wsError: Error | null = null;
      ws.on('error', (e) => (wsError ??= e));
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of entry) {
          const buf = chunk as Buffer;
          size += buf.length;
          hash.update(buf);
          const more = ws.write(buf);
          if (wsError) throw wsError;
          if (!more) await once(ws, 'drain', { signal: ac.signal });
        }
        ws.end();
        await finished(ws);
      } catch (e) {
        ws.destroy(); // release the descriptor before the half-written file is removed
        throw e;
      }
      await chmod(dest, h.mode & 0o777);
      await utimes(dest, h.mtime, h.mtime);
      current = null;
      files.push({ path: rel, size, sha256: hash.digest('hex') });
    }
  };

  const tasks = [guard(consume())];
  try {
    if (compression === 'bzip2') {
      filter = (opts.spawn ?? spawnProcess)(await bzip2Argv('decompress', opts.threads ?? defaultThreads(), opts.bzip2Program));
      tasks.push(
        guard(pipeline(source, filter.stdin, { signal: ac.signal })),
        guard(pipeline(filter.stdout, sink, { signal: ac.signal })),
        guard(filter.done),
      );
    } else {
      const p = compression === 'xz' ? pipeline(source, xzDecoder(), sink, { signal: ac.signal }) : pipeline(source, sink, { signal: ac.signal });
      tasks.push(guard(p));
    }
  } catch (e) {
    group.fail(e);
    source.destroy(); // never piped anywhere
  }
  await Promise.all(tasks);
  group.dispose();
  if (failures.length > 0) {
    if (current !== null) await rm(current, { force: true });
    throw asArchiveError(pickError(failures, signal), opts.archive);
  }
  // Exact directory modes and mtimes last (filling a directory changes its mtime), deepest first.
  for (const d of dirs.reverse()) {
    await chmod(d.path, d.mode);
    await utimes(d.path, d.mtime, d.mtime);
  }
  return { files };
}
