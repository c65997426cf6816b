/**
 * The tree operations of shared/nofollow, each working down from a folder already opened: a
 * link met on the way is unlinked (removal) or refused (walk), never entered.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ValidationError } from '../errors';
import { DIR_FLAGS, LinkRefusedError, MAX_DEPTH, TREE_CONCURRENCY, codeOf, inDir, type WalkEntry } from './fd';

/**
 * Visits every entry under the open folder `dir` (at `relDir`), depth first in name order, never
 * entering a link; `visit` returns false to skip a folder's contents.
 */
export async function walkFolder(dir: FileHandle, relDir: string, depth: number, label: string, visit: (e: WalkEntry) => Promise<boolean | void> | boolean | void): Promise<void> {
  if (depth > MAX_DEPTH) throw new ValidationError(`${label}: ${relDir} is more than ${MAX_DEPTH} folders deep: refused`, { path: relDir });
  const entries = (await fs.readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of entries) {
    const path = relDir ? `${relDir}/${d.name}` : d.name;
    const enter = await visit({ path, dirent: d, dir });
    if (!d.isDirectory() || enter === false) continue;
    let child: FileHandle;
    try {
      child = await fs.open(inDir(dir, d.name), DIR_FLAGS);
    } catch (err) {
      // Gone since the listing, or swapped for a link or a file: not entered.
      if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(codeOf(err) ?? '')) {
        if (codeOf(err) === 'ELOOP') throw new LinkRefusedError(`${label}: ${path} is a symbolic link: tandem never follows links here; remove it, or replace it with the folder or file it stands for`, { path });
        continue;
      }
      throw err;
    }
    try {
      await walkFolder(child, path, depth + 1, label, visit);
    } finally {
      await child.close().catch(() => undefined);
    }
  }
}

/** Unlinks the name at `path` (never following it); no error when it is gone. */
export async function unlinkIfThere(path: string): Promise<void> {
  await fs.unlink(path).catch((err) => {
    if (codeOf(err) !== 'ENOENT') throw err;
  });
}

/** Removes `name` in the open folder `dir`: a folder's tree through its own opened handle, anything else (a link included) by unlink. */
export async function removeEntry(dir: FileHandle, name: string, rel: string, depth: number, label: string): Promise<void> {
  let child: FileHandle;
  try {
    child = await fs.open(inDir(dir, name), DIR_FLAGS);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT') return;
    // A link (ELOOP) or a file (ENOTDIR): unlinked by name, which never follows it.
    if (code === 'ELOOP' || code === 'ENOTDIR') return unlinkIfThere(inDir(dir, name));
    throw err;
  }
  try {
    if (depth > MAX_DEPTH) throw new ValidationError(`${label}: ${rel} is more than ${MAX_DEPTH} folders deep: refused`, { path: rel });
    const entries = await fs.readdir(`/proc/self/fd/${child.fd}`, { withFileTypes: true });
    const folders = entries.filter((e) => e.isDirectory());
    const others = entries.filter((e) => !e.isDirectory());
    const settled = await Promise.allSettled(others.map((e) => unlinkIfThere(inDir(child, e.name)).catch((err) => {
      // Listed as a file but a folder by now: removed as a tree.
      if (codeOf(err) === 'EISDIR' || codeOf(err) === 'EPERM') return removeEntry(child, e.name, `${rel}/${e.name}`, depth + 1, label);
      throw err;
    })));
    let next = 0;
    const worker = async () => {
      while (next < folders.length) {
        const e = folders[next++];
        await removeEntry(child, e.name, `${rel}/${e.name}`, depth + 1, label);
      }
    };
    const trees = await Promise.allSettled(Array.from({ length: Math.min(TREE_CONCURRENCY, folders.length) }, worker));
    const failed = [...settled, ...trees].find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await child.close().catch(() => undefined);
  }
  // rmdir never follows a link at its name: a folder swapped for a link meanwhile fails here, harmlessly.
  await fs.rmdir(inDir(dir, name)).catch((err) => {
    if (codeOf(err) !== 'ENOENT') throw err;
  });
}
