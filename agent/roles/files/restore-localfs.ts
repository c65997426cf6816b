/**
 * Restore of the folder store: every listed file is copied back from the set storing it into the
 * target through a temporary name, its sha256 checked while it streams, then its mode, owner and
 * mtime restored before the rename. Nothing is ever written outside the target: listed paths are
 * checked when the listing is read (each line by its schema), again against the target here, and no
 * symbolic link inside the target is followed. The listing is read line by line, once per pass
 * (space, clean, load; check, extra files): only its folders are held in memory.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashingPassThrough, sha256File } from '../../archive/checksum';
import { checkFreeSpace } from '../../archive/fetch';
import { ValidationError } from '../../../shared/errors';
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

/** The absolute path of `rel` under root; throws if it would leave root. */
function inside(root: string, rel: string): string {
  const p = join(root, rel);
  const r = relative(root, p);
  if (rel !== '' && (r === '' || r.startsWith('..') || r.startsWith(sep))) throw new ValidationError(`path ${JSON.stringify(rel)} leaves the target ${root}`);
  return p;
}

/** Creates the folders of `relDir` one by one, refusing any existing symbolic link or non-folder on the way. */
async function ensureDir(root: string, relDir: string, known: Set<string>): Promise<void> {
  let cur = '';
  for (const seg of relDir ? relDir.split('/') : []) {
    cur = cur ? `${cur}/${seg}` : seg;
    if (known.has(cur)) continue;
    const abs = inside(root, cur);
    // mkdir -p would follow a planted link (target/ab -> /etc) and write outside the target.
    await fs.mkdir(abs, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    const st = await fs.lstat(abs);
    if (!st.isDirectory()) throw new ValidationError(`${abs} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; refusing to restore through it`);
    known.add(cur);
  }
}

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
async function applyMeta(path: string, e: { mode: number; uid: number; gid: number; mtimeMs?: number }): Promise<void> {
  if (isRoot()) await fs.chown(path, e.uid, e.gid);
  // chmod after chown: chown clears setuid/setgid bits.
  await fs.chmod(path, restoredMode(e.mode));
  // Seconds as a number keep sub-millisecond precision that a Date would round away.
  if (e.mtimeMs !== undefined) await fs.utimes(path, Date.now() / 1000, e.mtimeMs / 1000);
}

/** True when a regular file with the listed size and sha256 is already at `path` (a resumed load). */
async function alreadyThere(path: string, f: ListedFile, signal: AbortSignal): Promise<boolean> {
  const st = await fs.lstat(path).catch(() => null);
  if (!st?.isFile() || st.size !== f.size) return false;
  return f.sha256 ? (await sha256File(path, signal)) === f.sha256 : false;
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
async function cleanUnlisted(root: string, open: LocalListing): Promise<number> {
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
    await fs.rm(join(root, p), { force: true });
    removed++;
  }
  for (const d of folders) await fs.rm(join(root, d), { recursive: true, force: true }).then(() => removed++);
  return removed;
}

/** Copies every listed file into the target (load phase); returns counts. */
export async function loadFolder(ctx: RestoreContext, t: FolderTarget, open: LocalListing, clean: boolean) {
  await fs.mkdir(t.target, { recursive: true, mode: 0o700 });
  const root = await fs.realpath(t.target);
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
    const st = await fs.lstat(join(root, r.file.path)).catch(() => null);
    if (!st?.isFile() || st.size !== r.file.size) need += r.file.size;
  });
  // Collected in parallel: back to listing order, where a folder comes before what it holds.
  dirs.sort((a, b) => compareStorePaths(a.path, b.path));
  await checkFreeSpace(root, need, `restoring ${listed.files} files`);
  const removed = clean ? await cleanUnlisted(root, open) : 0;
  const known = new Set<string>();
  // Folders first, parents before children, so empty folders come back too.
  for (const d of dirs) await ensureDir(root, d.path, known);
  let bytes = 0;
  let skipped = 0;
  const progress = progressReporter(ctx, listed.files, listed.bytes, 'load');
  await forEachBounded(fileRecords(open), t.concurrency, ctx.signal, async (f, signal) => {
    const final = inside(root, f.path);
    await ensureDir(root, dirname(f.path) === '.' ? '' : dirname(f.path), known);
    if (await alreadyThere(final, f, signal)) {
      skipped++;
      await applyMeta(final, f);
      return progress.add(f.size);
    }
    // A fixed temporary name (dot names are never listed): a crashed load's debris is overwritten, not piled up.
    const tmp = join(dirname(final), `.${f.path.split('/').pop()}.tandem-partial`);
    await fs.rm(tmp, { force: true });
    const hasher = new HashingPassThrough();
    try {
      // 'wx' never follows a link planted at the temporary name.
      await pipeline(await ctx.destination.get(t.from(f)), hasher, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal });
      const got = hasher.digest();
      if (hasher.bytes !== f.size || (f.sha256 && got !== f.sha256)) {
        throw new ValidationError(`files: ${f.path} at the destination does not match the backup listing (sha256 ${got}, ${hasher.bytes} bytes; expected sha256 ${f.sha256}, ${f.size} bytes): the backup set is damaged`, { path: f.path });
      }
      await applyMeta(tmp, f);
      // No fsync per file: a file torn by a crash fails the size/sha256 check on resume and verify.
      await fs.rename(tmp, final);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    bytes += f.size;
    progress.add(f.size);
  });
  // Folder modes last and deepest first: a restored 0500 folder must not block writes into it.
  for (const d of [...dirs].reverse()) await applyMeta(inside(root, d.path), d);
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
  await forEachBounded(fileRecords(open), t.concurrency, ctx.signal, async (f, signal) => {
    files++;
    const p = inside(t.target, f.path);
    const st = await fs.lstat(p).catch(() => null);
    if (!st) return problem(`${f.path}: missing`);
    if (!st.isFile()) return problem(`${f.path}: not a regular file`);
    if (st.size !== f.size) return problem(`${f.path}: ${st.size} bytes, expected ${f.size}`);
    if (f.sha256 && (await sha256File(p, signal)) !== f.sha256) return problem(`${f.path}: sha256 differs`);
    if ((st.mode & 0o7777) !== restoredMode(f.mode)) problem(`${f.path}: mode ${(st.mode & 0o7777).toString(8)}, expected ${restoredMode(f.mode).toString(8)}`);
    if (isRoot() && (st.uid !== f.uid || st.gid !== f.gid)) problem(`${f.path}: owner ${st.uid}:${st.gid}, expected ${f.uid}:${f.gid}`);
    bytes += st.size;
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
