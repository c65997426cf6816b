/**
 * Walking a folder store in listing order (compareStorePaths): depth first, each folder's names
 * sorted, never following a link. Entries come out one by one, so a store of millions of
 * attachments is never held in memory; only the folders being read ahead are.
 *
 * TheHive's aa/bb/<sha256> layout holds tens of thousands of small folders, which one readdir
 * after another would list in minutes: the next folders of a level are read ahead (READ_AHEAD at
 * a time) while the current one is handed out, and the entries of a folder are stat'ed together.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { compareStorePaths } from '../../../shared/parts/files-listing';
import { runPool } from '../../../shared/pool';
import type { Unstorable } from './copy';

/** One regular file of the cut. */
export interface CutFile {
  /** Path relative to the folder, '/'-separated. */
  path: string;
  size: number;
  mtimeMs: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Inode number, when a number holds it exactly (see listedFileSchema). */
  ino?: number;
}

/** One folder of the cut ('' is the root), so restore can recreate owners and modes. */
export type CutDir = Omit<CutFile, 'size' | 'mtimeMs' | 'ino'>;

/** What a walk hands out: a folder, a regular file, or anything else (links, sockets), which is not copied. */
export type WalkEntry = { dir: CutDir } | { file: CutFile } | { skipped: Unstorable };

/** The path of a walk entry. */
export const walkPath = (e: WalkEntry): string => ('dir' in e ? e.dir.path : 'file' in e ? e.file.path : e.skipped.path);

/** Folders whose names are read ahead of the one handed out. */
const READ_AHEAD = 8;
/** lstat calls at once per folder: fast on local disks, bounded on NFS. */
const STATS = 32;

/** The entries of one folder, sorted by name; [] when it vanished meanwhile (deleted before the cut). */
async function readFolder(location: string, rel: string): Promise<WalkEntry[]> {
  let names: string[];
  try {
    names = await fs.readdir(join(location, rel));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const found = await runPool(names, STATS, undefined, async (name): Promise<WalkEntry | null> => {
    const p = rel ? `${rel}/${name}` : name;
    let st;
    try {
      st = await fs.lstat(join(location, p));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const own = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) return { dir: { path: p, ...own } };
    if (st.isFile()) return { file: { path: p, size: st.size, mtimeMs: st.mtimeMs, ...own, ...(Number.isSafeInteger(st.ino) ? { ino: st.ino } : {}) } };
    return { skipped: { path: p, reason: st.isSymbolicLink() ? 'symbolic link' : 'not a regular file' } };
  });
  return found.filter((e): e is WalkEntry => e !== null);
}

/** Every entry under `location` in listing order, the root folder ('' path) first. */
export async function* walkFolder(location: string): AsyncGenerator<WalkEntry> {
  const root = await fs.lstat(location);
  yield { dir: { path: '', mode: root.mode & 0o7777, uid: root.uid, gid: root.gid } };
  yield* visit(location, readFolder(location, ''));
}

async function* visit(location: string, pending: Promise<WalkEntry[]>): AsyncGenerator<WalkEntry> {
  const entries = await pending;
  const folders = entries.filter((e): e is { dir: CutDir } => 'dir' in e).map((e) => e.dir.path);
  const ahead = new Map<string, Promise<WalkEntry[]>>();
  let started = 0;
  const readAhead = (upTo: number) => {
    for (; started < folders.length && started <= upTo; started++) {
      const p = readFolder(location, folders[started]);
      // Awaited when its turn comes; until then a failure must not count as unhandled.
      p.catch(() => undefined);
      ahead.set(folders[started], p);
    }
  };
  let index = 0;
  try {
    for (const e of entries) {
      yield e;
      if (!('dir' in e)) continue;
      readAhead(index + READ_AHEAD);
      index++;
      const p = ahead.get(e.dir.path)!;
      ahead.delete(e.dir.path);
      yield* visit(location, p);
    }
  } finally {
    ahead.clear();
  }
}

/**
 * Two streams in listing order merged by path, in one pass: each step gives the entry of `a`,
 * of `b`, or of both when their paths are equal (null for the side without one).
 */
export async function* mergeByPath<A, B>(a: AsyncIterable<A>, pathA: (x: A) => string, b: AsyncIterable<B>, pathB: (y: B) => string): AsyncGenerator<[A | null, B | null]> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  try {
    let x = await ia.next();
    let y = await ib.next();
    while (!x.done || !y.done) {
      const order = x.done ? 1 : y.done ? -1 : compareStorePaths(pathA(x.value), pathB(y.value));
      if (order < 0) {
        yield [x.value as A, null];
        x = await ia.next();
      } else if (order > 0) {
        yield [null, y.value as B];
        y = await ib.next();
      } else {
        yield [x.value as A, y.value as B];
        x = await ia.next();
        y = await ib.next();
      }
    }
  } finally {
    await ia.return?.();
    await ib.return?.();
  }
}
