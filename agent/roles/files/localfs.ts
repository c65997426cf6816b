/**
 * The folder store (storage.provider = localfs, often an NFS share). The cut is a listing taken
 * at commit; ship copies every listed file and reports, never hides, files that changed or
 * vanished since. TheHive's attachments are immutable and named by their hash, so such changes
 * are rare (a case deleted in between) and the set stays valid: the listing says what it holds.
 */
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { relPathProblem } from '../../../shared/destination/paths';
import type { RoleContext } from '../role';
import { runPool } from '../../../shared/pool';
import { progressReporter, putHashed, type StoredFile, type Unstorable } from './copy';

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

/** The listing taken at commit. */
export interface LocalCut {
  store: 'localfs';
  location: string;
  cutAt: number;
  files: CutFile[];
  dirs: CutDir[];
  /** Entries that are not regular files or folders (symlinks, sockets...), not copied. */
  skipped: Unstorable[];
}

/** A file whose size or mtime differs from the cut. */
export interface ChangedFile {
  path: string;
  when: 'after the cut' | 'during the copy';
  cut: { size: number; mtimeMs: number };
  found: { size: number; mtimeMs: number };
}

/** Read-only check that the folder exists and can be listed and read. */
export async function checkFolder(location: string): Promise<string | null> {
  try {
    const st = await fs.stat(location);
    if (!st.isDirectory()) return `${location} is not a folder`;
    await fs.access(location, constants.R_OK | constants.X_OK);
    await fs.readdir(location);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${location} does not exist (is the share mounted?)`;
    if (code === 'EACCES') return `${location} is not readable by the agent (uid ${process.getuid?.()})`;
    return `${location}: ${(err as Error).message}`;
  }
}

/** Lists the folder recursively (lstat, never following links); sorted by path. */
export async function listFolder(location: string): Promise<LocalCut> {
  const cutAt = Date.now();
  const files: CutFile[] = [];
  const dirs: CutDir[] = [];
  const skipped: Unstorable[] = [];
  const rootSt = await fs.lstat(location);
  dirs.push({ path: '', mode: rootSt.mode & 0o7777, uid: rootSt.uid, gid: rootSt.gid });
  // Breadth first, a whole level of folders at a time: TheHive's aa/bb/<sha256> layout holds tens of
  // thousands of small folders, which one readdir after another would list in minutes.
  let level: string[] = [''];
  while (level.length) {
    const found = await runPool(level, 16, undefined, async (rel) => (await fs.readdir(join(location, rel))).map((name) => (rel ? `${rel}/${name}` : name)));
    const next: string[] = [];
    // 64 stats at a time: fast on local disks, bounded on NFS.
    await runPool(found.flat(), 64, undefined, async (p) => {
      let st;
      try {
        st = await fs.lstat(join(location, p));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // deleted while listing: before the cut
        throw err;
      }
      const own = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        dirs.push({ path: p, ...own });
        next.push(p);
      } else if (st.isFile()) files.push({ path: p, size: st.size, mtimeMs: st.mtimeMs, ...own, ...(Number.isSafeInteger(st.ino) ? { ino: st.ino } : {}) });
      else skipped.push({ path: p, reason: st.isSymbolicLink() ? 'symbolic link' : 'not a regular file' });
    });
    level = next;
  }
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { store: 'localfs', location, cutAt, files: files.sort(byPath), dirs: dirs.sort(byPath), skipped };
}

/** What copyFolder did. */
export interface LocalCopyResult {
  stored: (CutFile & { sha256: string; dest: string })[];
  changed: ChangedFile[];
  missing: string[];
  unstorable: Unstorable[];
}

/** Copies every file of the cut to `<base>/data/<path>`, hashing while copying. */
export async function copyFolder(ctx: RoleContext, cut: LocalCut, base: string, concurrency: number): Promise<LocalCopyResult> {
  const out: LocalCopyResult = { stored: [], changed: [], missing: [], unstorable: [] };
  const progress = progressReporter(ctx, cut.files.length, cut.files.reduce((a, f) => a + f.size, 0));
  await runPool(cut.files, concurrency, ctx.signal, async (f) => {
    const dest = `${base}/data/${f.path}`;
    const why = relPathProblem(dest);
    if (why) {
      out.unstorable.push({ path: f.path, reason: why });
      return progress.add(0);
    }
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(join(cut.location, f.path), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      out.missing.push(f.path);
      return progress.add(0);
    }
    try {
      // Stat the open handle: the bytes we read belong to this inode even if the name is removed meanwhile.
      const before = await fh.stat();
      const seen = (st: { size: number; mtimeMs: number }) => ({ size: st.size, mtimeMs: st.mtimeMs });
      if (before.size !== f.size || before.mtimeMs !== f.mtimeMs) out.changed.push({ path: f.path, when: 'after the cut', cut: seen(f), found: seen(before) });
      const r = await putHashed(ctx.destination, dest, () => fh!.createReadStream({ autoClose: false, start: 0 }), ctx.signal);
      const after = await fh.stat();
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || r.size !== before.size) {
        out.changed.push({ path: f.path, when: 'during the copy', cut: seen(f), found: { size: r.size, mtimeMs: after.mtimeMs } });
      }
      out.stored.push({ ...f, size: r.size, sha256: r.sha256, dest });
      progress.add(r.size);
    } finally {
      await fh.close();
    }
  });
  return out;
}

/** The manifest entries of the copied files. */
export function storedFiles(r: LocalCopyResult): StoredFile[] {
  return r.stored.map((f) => ({ path: f.dest, size: f.size, sha256: f.sha256 }));
}
