/**
 * The folder store (storage.provider = localfs, often an NFS share). The cut is a walk of the
 * folder at commit (walk.ts, cut.ts); ship copies every file of it and reports, never hides, files that changed or
 * vanished since. TheHive's attachments are immutable and named by their hash, so such changes
 * are rare (a case deleted in between) and the set stays valid: the listing says what it holds.
 */
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { attachmentProblem } from '../../../shared/destination/layout';
import type { RoleContext } from '../role';
import { attachmentTarget, putHashed, type Sealed, type Unstorable } from './copy';
import type { CutFile } from './walk';

export type { CutDir, CutFile } from './walk';

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

/** What copying one file of the cut gave: the file stored (with what changed about it on the way), or why not. */
export type FileCopy =
  | { stored: CutFile & { sha256: string; sealed?: Sealed }; changed: ChangedFile[] }
  | { missing: string }
  | { unstorable: Unstorable };

/** Copies one file of the cut to `<id>/<node>/files/data/<path>`, hashing while copying. */
export async function copyCutFile(ctx: Pick<RoleContext, 'destination' | 'backupId' | 'node'>, location: string, f: CutFile, signal: AbortSignal): Promise<FileCopy> {
  const why = attachmentProblem(ctx.backupId, ctx.node, 'localfs', f.path);
  if (why) return { unstorable: { path: f.path, reason: why } };
  const { path: dest, sealedName } = attachmentTarget(ctx.destination, ctx.backupId, ctx.node, 'localfs', f.path);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(join(location, f.path), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { missing: f.path };
  }
  try {
    const changed: ChangedFile[] = [];
    // Stat the open handle: the bytes we read belong to this inode even if the name is removed meanwhile.
    const before = await fh.stat();
    const seen = (st: { size: number; mtimeMs: number }) => ({ size: st.size, mtimeMs: st.mtimeMs });
    if (before.size !== f.size || before.mtimeMs !== f.mtimeMs) changed.push({ path: f.path, when: 'after the cut', cut: seen(f), found: seen(before) });
    // An upload cut short is sent again from the start of the same open file.
    const r = await putHashed(ctx.destination, dest, () => fh.createReadStream({ autoClose: false, start: 0 }), signal);
    const after = await fh.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || r.size !== before.size) {
      changed.push({ path: f.path, when: 'during the copy', cut: seen(f), found: { size: r.size, mtimeMs: after.mtimeMs } });
    }
    return { stored: { ...f, size: r.size, sha256: r.sha256, ...(r.sealed && sealedName ? { sealed: { name: sealedName, ...r.sealed } } : {}) }, changed };
  } finally {
    await fh.close();
  }
}
