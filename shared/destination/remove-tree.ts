/**
 * Removing a folder tree of a local or NFS destination: a pruned set's folder holds hundreds of
 * small files. Each unlink waits on the file system (its journal, or the NFS server) far longer
 * than it works, so every file of a folder is unlinked at once and the thread pool
 * (coordinator/threadpool.ts) keeps those waits side by side. Unlike fs.rm({recursive}), the file
 * types come from the folder listing itself: no lstat per file, no rmdir tried on a full folder.
 * A symbolic link is removed, never followed.
 */
import { promises as fs, type Dirent } from 'node:fs';

const absent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** Removes the file, link or folder tree at `abs`; nothing if it is absent. Rejects with the first failure once every removal in flight has settled. */
export async function removeTree(abs: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(abs, { withFileTypes: true });
  } catch (err) {
    if (absent(err)) return;
    // Not a folder: a file or a link, removed by itself.
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return unlinkIfThere(abs);
    throw err;
  }
  const settled = await Promise.allSettled(entries.map((e) => (e.isDirectory() ? removeTree(`${abs}/${e.name}`) : unlinkIfThere(`${abs}/${e.name}`))));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  await fs.rmdir(abs).catch((err: unknown) => {
    if (!absent(err)) throw err;
  });
}

async function unlinkIfThere(abs: string): Promise<void> {
  await fs.unlink(abs).catch((err: unknown) => {
    if (!absent(err)) throw err;
  });
}
