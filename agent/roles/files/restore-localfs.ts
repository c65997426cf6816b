/**
 * Restore of the folder store: every listed file is copied back from the set storing it into the
 * target through a temporary name, its sha256 checked while it streams, then its mode, owner and
 * mtime restored before the rename. Nothing is ever written outside the target: listed paths are
 * checked when the listing is parsed (filesListingSchema), again against the target here, and no
 * symbolic link inside the target is followed.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashingPassThrough, sha256File } from '../../archive/checksum';
import { checkFreeSpace } from '../../archive/fetch';
import { ValidationError } from '../../../shared/errors';
import type { ListedDir, ListedFile } from '../../../shared/parts/files';
import type { PhaseOutcome, RestoreContext } from '../role';
import { runPool } from '../../../shared/pool';
import { progressReporter } from './copy';

/** A file as the listing records it. */
/** The folder part of a files listing. */
export interface FolderListing {
  files: ListedFile[];
  dirs: ListedDir[];
}

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

/** Every file and folder under root (lstat, links not followed), as root-relative paths. */
async function walk(root: string): Promise<{ files: string[]; dirs: string[] }> {
  const out = { files: [] as string[], dirs: [] as string[] };
  const queue = [''];
  while (queue.length) {
    const rel = queue.shift()!;
    for (const e of await fs.readdir(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.dirs.push(p);
        queue.push(p);
      } else out.files.push(p);
    }
  }
  return out;
}

/** Removes what the listing does not hold (option files_clean=true); listed files stay so a resumed load skips them. */
async function cleanUnlisted(root: string, listing: FolderListing): Promise<number> {
  const files = new Set(listing.files.map((f) => f.path));
  const dirs = new Set(listing.dirs.map((d) => d.path));
  const found = await walk(root);
  let removed = 0;
  for (const f of found.files) {
    if (files.has(f)) continue;
    await fs.rm(join(root, f), { force: true });
    removed++;
  }
  // Deepest first; a folder still holding listed files is kept (a listed file's folder is always listed).
  for (const d of found.dirs.reverse()) {
    if (!dirs.has(d)) await fs.rm(join(root, d), { recursive: true, force: true }).then(() => removed++);
  }
  return removed;
}

/** Copies every listed file into the target (load phase); returns counts. */
export async function loadFolder(ctx: RestoreContext, t: FolderTarget, listing: FolderListing, clean: boolean) {
  await fs.mkdir(t.target, { recursive: true, mode: 0o700 });
  const root = await fs.realpath(t.target);
  // The listed sizes bound the load before it starts: files not already there must fit.
  let need = 0;
  for (const f of listing.files) {
    const st = await fs.lstat(join(root, f.path)).catch(() => null);
    if (!st?.isFile() || st.size !== f.size) need += f.size;
  }
  await checkFreeSpace(root, need, `restoring ${listing.files.length} files`);
  const removed = clean ? await cleanUnlisted(root, listing) : 0;
  const known = new Set<string>();
  // Folders first, parents before children (sorted by path), so empty folders come back too.
  for (const d of [...listing.dirs].sort((a, b) => (a.path < b.path ? -1 : 1))) await ensureDir(root, d.path, known);
  let bytes = 0;
  let skipped = 0;
  const progress = progressReporter(ctx, listing.files.length, listing.files.reduce((a, f) => a + f.size, 0), 'load');
  await runPool(listing.files, t.concurrency, ctx.signal, async (f) => {
    const final = inside(root, f.path);
    await ensureDir(root, dirname(f.path) === '.' ? '' : dirname(f.path), known);
    if (await alreadyThere(final, f, ctx.signal)) {
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
      await pipeline(await ctx.destination.get(t.from(f)), hasher, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal: ctx.signal });
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
  for (const d of [...listing.dirs].sort((a, b) => (a.path < b.path ? 1 : -1))) await applyMeta(inside(root, d.path), d);
  const special = [...listing.files, ...listing.dirs].filter((e) => e.mode !== restoredMode(e.mode)).length;
  return {
    detail: `${listing.files.length} files into ${root} (${bytes} bytes copied, ${skipped} already there${clean ? `, ${removed} not in the backup removed` : ''}); ` +
      (special ? `setuid/setgid/sticky bits of ${special} listed entries not restored; ` : '') +
      (isRoot() ? 'owners restored' : `owners not restored: the agent runs as uid ${process.getuid?.()}, not root; chown the files to TheHive's user`),
  } satisfies PhaseOutcome;
}

/** Checks every listed file in the target: present, same size, sha256 and mode (and owner when root). */
export async function verifyFolder(ctx: RestoreContext, t: FolderTarget, listing: FolderListing) {
  const problems: string[] = [];
  let bytes = 0;
  await runPool(listing.files, t.concurrency, ctx.signal, async (f) => {
    const p = inside(t.target, f.path);
    const st = await fs.lstat(p).catch(() => null);
    if (!st) return void problems.push(`${f.path}: missing`);
    if (!st.isFile()) return void problems.push(`${f.path}: not a regular file`);
    if (st.size !== f.size) return void problems.push(`${f.path}: ${st.size} bytes, expected ${f.size}`);
    if (f.sha256 && (await sha256File(p, ctx.signal)) !== f.sha256) return void problems.push(`${f.path}: sha256 differs`);
    if ((st.mode & 0o7777) !== restoredMode(f.mode)) problems.push(`${f.path}: mode ${(st.mode & 0o7777).toString(8)}, expected ${restoredMode(f.mode).toString(8)}`);
    if (isRoot() && (st.uid !== f.uid || st.gid !== f.gid)) problems.push(`${f.path}: owner ${st.uid}:${st.gid}, expected ${f.uid}:${f.gid}`);
    bytes += st.size;
  });
  problems.sort();
  // Files the backup does not hold (added after the cut, restore without files_clean) are not an
  // error, TheHive no longer references them, but the operator should know they are there.
  const listed = new Set(listing.files.map((f) => f.path));
  const extra = (await walk(t.target)).files.filter((f) => !listed.has(f) && !f.split('/').some((seg) => seg.startsWith('.'))).sort();
  return {
    ok: problems.length === 0,
    problems: problems.slice(0, MAX_PROBLEMS),
    problemCount: problems.length,
    files: { files: listing.files.length, bytes, extraCount: extra.length, extraFirst: extra.slice(0, MAX_PROBLEMS) },
  } satisfies PhaseOutcome;
}
