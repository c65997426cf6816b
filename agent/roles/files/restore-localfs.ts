/**
 * Restore of the folder store: every listed file is copied back from the set storing it into the
 * target through a temporary name, its sha256 checked while it streams, then its mode, owner and
 * mtime restored before the rename. Nothing is ever written outside the target: listed paths are
 * checked when the listing is read (each line by its schema), and no symbolic link inside the
 * target is followed. The listing is read line by line, once per pass (space, clean, load;
 * check, extra files): only its folders are held in memory.
 *
 * TheHive's user owns the target and can swap any folder in it for a link while a long load runs
 * as root. So nothing is checked first and used by name later: every path is walked afresh
 * through shared/nofollow (each folder opened with O_NOFOLLOW, the last name used inside the
 * opened folder), files are created with O_EXCL|O_NOFOLLOW and renamed inside the folder they
 * were created in, and owner, mode and times are set on the opened file or folder (fchown,
 * fchmod, futimes), never by path.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { attachmentSource } from '../../../shared/encrypted-set';
import { HashingPassThrough } from '../../archive/checksum';
import { checkFreeSpace } from '../../archive/fetch';
import { TandemError, ValidationError } from '../../../shared/errors';
import { LinkRefusedError, NoFollowRoot, handleSink } from '../../../shared/nofollow';
import type { ListedDir, ListedFile } from '../../../shared/parts/files';
import { compareStorePaths, folderEntries, listedFiles, type FolderRecord } from '../../../shared/parts/files-listing';
import { forEachBounded } from '../../../shared/pool';
import type { PhaseOutcome, RestoreContext } from '../role';
import { progressReporter } from './copy';
import type { LocalListing } from './listing-local';
import { mergeByPath, walkFolder, walkPath } from './walk';

/** Where and how to restore. */
export interface FolderTarget {
  /** Where a listed file's bytes are at the destination (attachmentPath). */
  from: (f: ListedFile) => string;
  /** Absolute target folder. */
  target: string;
  concurrency: number;
}

const isRoot = () => process.getuid?.() === 0;
const MAX_PROBLEMS = 50;

/** Folders the load makes get this mode until the listing's mode is applied at the end. */
const DIR_MODE = 0o700;

/** The target as a root never left through a link; its own path must be its real path. */
const targetTree = (root: string) => new NoFollowRoot(root, `files target ${root}`, { strictRoot: true });

/** A fixed temporary name (dot names are never listed): a crashed load's debris is replaced, not piled up. */
const tempNameOf = (rel: string) => `.${rel.split('/').pop()}.tandem-partial`;

/**
 * The mode a listed entry is restored with: permission bits only. setuid, setgid and sticky bits
 * from a listing are never set: the listing is read back from a destination any agent can write
 * to, and TheHive's attachments are data, never programs.
 */
export const restoredMode = (listed: number): number => listed & 0o777;

/**
 * Applies mode, owner and mtime of the listing to a path. Owners are restored only when the agent
 * runs as root (otherwise chown fails, and the operator is told to chown). A listed owner of uid
 * or gid 0 is restored as listed: without setuid/setgid bits a root-owned file grants nothing, and
 * it is what the store held at backup.
 */
async function applyMeta(h: FileHandle, e: { mode: number; uid: number; gid: number; mtimeMs?: number }): Promise<void> {
  // On the opened handle: a path could have been swapped for a link since it was opened.
  if (isRoot()) await h.chown(e.uid, e.gid);
  // chmod after chown: chown clears setuid/setgid bits.
  await h.chmod(restoredMode(e.mode));
  // Seconds as a number keep sub-millisecond precision that a Date would round away.
  if (e.mtimeMs !== undefined) await h.utimes(Date.now() / 1000, e.mtimeMs / 1000);
}

/** The sha256 of an open file, read from its start; the handle stays open. */
async function sha256Of(h: FileHandle, signal: AbortSignal): Promise<string> {
  const hasher = new HashingPassThrough();
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  await pipeline(h.createReadStream({ start: 0, autoClose: false }), hasher, sink, { signal });
  return hasher.digest();
}

/**
 * When a regular file with the listed size and sha256 is already at the listed path (a resumed
 * load), that file opened (never through a link); else null. A link or special file there is not
 * the file, and is replaced by the load's rename.
 */
async function alreadyThere(tree: NoFollowRoot, f: ListedFile, signal: AbortSignal): Promise<FileHandle | null> {
  const opened = await tree.openRead(f.path).catch((err) => {
    if (err instanceof TandemError) return null;
    throw err;
  });
  if (!opened) return null;
  const same = opened.size === f.size && f.sha256 !== undefined && f.sha256 !== '' && (await sha256Of(opened.handle, signal).catch(async (err) => {
    await opened.handle.close();
    throw err;
  })) === f.sha256;
  if (same) return opened.handle;
  await opened.handle.close();
  return null;
}

/** lstat of a listed path without following links; null when absent or behind a link. */
async function statIfThere(tree: NoFollowRoot, rel: string) {
  return tree.stat(rel).catch((err) => {
    if (err instanceof TandemError) return null;
    throw err;
  });
}

/** The folder and file records of the listing, read afresh from its start. */
async function* folderRecords(open: LocalListing): AsyncGenerator<FolderRecord> {
  yield* folderEntries((await open()).records);
}

/** The file records of the listing, read afresh from its start. */
async function* fileRecords(open: LocalListing): AsyncGenerator<ListedFile> {
  yield* listedFiles((await open()).records);
}

const recordPath = (r: FolderRecord) => ('dir' in r ? r.dir.path : r.file.path);

/**
 * Removes what the listing does not hold (option files_clean=true); listed files stay so a
 * resumed load skips them. The target is walked in listing order and merged with the listing in
 * one pass; a folder the listing does not hold goes whole, after the walk.
 */
async function cleanUnlisted(root: string, tree: NoFollowRoot, open: LocalListing): Promise<number> {
  let removed = 0;
  const folders: string[] = [];
  let under: string | null = null;
  for await (const [found, listed] of mergeByPath(walkFolder(root), walkPath, folderRecords(open), recordPath)) {
    if (!found) continue;
    const p = walkPath(found);
    if (under !== null && p.startsWith(`${under}/`)) continue;
    if ('dir' in found) {
      if (listed && 'dir' in listed) continue;
      folders.push(p);
      under = p;
      continue;
    }
    // A link or special file at a listed file's path is replaced by the load (rename over it).
    if (listed && 'file' in listed) continue;
    // Removed by its name inside its opened folder: a folder on its path swapped for a link is refused.
    await tree.remove(p);
    removed++;
  }
  for (const d of folders) await tree.removeTree(d).then(() => removed++);
  return removed;
}

/** Copies every listed file into the target (load phase); returns counts. */
export async function loadFolder(ctx: RestoreContext, t: FolderTarget, open: LocalListing, clean: boolean) {
  await fs.mkdir(t.target, { recursive: true, mode: 0o700 });
  const root = await fs.realpath(t.target);
  const tree = targetTree(root);
  // The listed sizes bound the load before it starts: files not already there must fit. The
  // folders are kept (TheHive's layout has at most 65,793 of them); files are only counted.
  const dirs: ListedDir[] = [];
  const listed = { files: 0, bytes: 0 };
  let need = 0;
  let special = 0;
  await forEachBounded(folderRecords(open), 32, ctx.signal, async (r) => {
    const e = 'dir' in r ? r.dir : r.file;
    if (e.mode !== restoredMode(e.mode)) special++;
    if ('dir' in r) return void dirs.push(r.dir);
    listed.files++;
    listed.bytes += r.file.size;
    const st = await statIfThere(tree, r.file.path);
    if (st?.kind !== 'file' || st.size !== r.file.size) need += r.file.size;
  });
  // Collected in parallel: back to listing order, where a folder comes before what it holds.
  dirs.sort((a, b) => compareStorePaths(a.path, b.path));
  await checkFreeSpace(root, need, `restoring ${listed.files} files`);
  const removed = clean ? await cleanUnlisted(root, tree, open) : 0;
  // Folders first, parents before children, so empty folders come back too; each walked afresh.
  for (const d of dirs) await (await tree.mkdirp(d.path, DIR_MODE)).close();
  let bytes = 0;
  let skipped = 0;
  const progress = progressReporter(ctx, listed.files, listed.bytes, 'load');
  await forEachBounded(fileRecords(open), t.concurrency, ctx.signal, async (f, signal) => {
    const there = await alreadyThere(tree, f, signal);
    if (there) {
      skipped++;
      try {
        await applyMeta(there, f);
      } finally {
        await there.close();
      }
      return progress.add(f.size);
    }
    // Made (O_EXCL|O_NOFOLLOW) in its folder opened afresh, any old temporary there removed first.
    const file = await tree.create(f.path, { mode: 0o600, dirMode: DIR_MODE, tempName: tempNameOf(f.path) });
    const hasher = new HashingPassThrough();
    try {
      await pipeline(await attachmentSource(ctx.destination, t.from(f), f), hasher, handleSink(file.handle), { signal });
      const got = hasher.digest();
      if (hasher.bytes !== f.size || (f.sha256 && got !== f.sha256)) {
        throw new ValidationError(`files: ${f.path} at the destination does not match the backup listing (sha256 ${got}, ${hasher.bytes} bytes; expected sha256 ${f.sha256}, ${f.size} bytes): the backup set is damaged`, { path: f.path });
      }
      await applyMeta(file.handle, f);
    } catch (err) {
      await file.discard();
      throw err;
    }
    // No fsync per file: a file torn by a crash fails the size/sha256 check on resume and verify.
    await file.commit({ sync: false });
    bytes += f.size;
    progress.add(f.size);
  });
  // Folder modes last and deepest first: a restored 0500 folder must not block writes into it.
  for (const d of [...dirs].reverse()) {
    const h = await tree.openDir(d.path);
    try {
      await applyMeta(h, d);
    } finally {
      await h.close();
    }
  }
  return {
    detail: `${listed.files} files into ${root} (${bytes} bytes copied, ${skipped} already there${clean ? `, ${removed} not in the backup removed` : ''}); ` +
      (special ? `setuid/setgid/sticky bits of ${special} listed entries not restored; ` : '') +
      (isRoot() ? 'owners restored' : `owners not restored: the agent runs as uid ${process.getuid?.()}, not root; chown the files to TheHive's user`),
  } satisfies PhaseOutcome;
}

/** Checks every listed file in the target: present, same size, sha256 and mode (and owner when root). */
export async function verifyFolder(ctx: RestoreContext, t: FolderTarget, open: LocalListing) {
  // The first problems are kept for the report, all are counted: a target missing everything must not fill the memory.
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (p: string) => {
    problemCount++;
    if (problems.length < 1000) problems.push(p);
  };
  let bytes = 0;
  let files = 0;
  const real = await fs.realpath(t.target).catch(() => null);
  // A target that is not there: every file is missing.
  const tree = real ? targetTree(real) : new NoFollowRoot(t.target);
  await forEachBounded(fileRecords(open), t.concurrency, ctx.signal, async (f, signal) => {
    files++;
    let opened: { handle: FileHandle; size: number };
    try {
      const st = await tree.stat(f.path);
      if (!st) return problem(`${f.path}: missing`);
      if (st.kind !== 'file') return problem(`${f.path}: not a regular file`);
      opened = await tree.openRead(f.path);
    } catch (err) {
      // Only the path is told: what a link points to is none of the report's business.
      if (err instanceof LinkRefusedError) return problem(`${f.path}: a symbolic link is on its path`);
      if (err instanceof TandemError) return problem(`${f.path}: not a regular file`);
      throw err;
    }
    try {
      const st = await opened.handle.stat();
      if (st.size !== f.size) return problem(`${f.path}: ${st.size} bytes, expected ${f.size}`);
      if (f.sha256 && (await sha256Of(opened.handle, signal)) !== f.sha256) return problem(`${f.path}: sha256 differs`);
      if ((st.mode & 0o7777) !== restoredMode(f.mode)) problem(`${f.path}: mode ${(st.mode & 0o7777).toString(8)}, expected ${restoredMode(f.mode).toString(8)}`);
      if (isRoot() && (st.uid !== f.uid || st.gid !== f.gid)) problem(`${f.path}: owner ${st.uid}:${st.gid}, expected ${f.uid}:${f.gid}`);
      bytes += st.size;
    } finally {
      await opened.handle.close();
    }
  });
  problems.sort();
  // Files the backup does not hold (added after the cut, restore without files_clean) are not an
  // error, TheHive no longer references them, but the operator should know they are there.
  const extraFirst: string[] = [];
  let extraCount = 0;
  for await (const [found, listed] of mergeByPath(walkFolder(t.target), walkPath, fileRecords(open), (f) => f.path)) {
    if (!found || 'dir' in found || listed) continue;
    const p = walkPath(found);
    if (p.split('/').some((seg) => seg.startsWith('.'))) continue;
    extraCount++;
    if (extraFirst.length < MAX_PROBLEMS) extraFirst.push(p);
  }
  return {
    ok: problemCount === 0,
    problems: problems.slice(0, MAX_PROBLEMS),
    problemCount,
    files: { files, bytes, extraCount, extraFirst },
  } satisfies PhaseOutcome;
}
