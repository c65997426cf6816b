/**
 * The file store capture's side of the destination: one object per stored version of a file,
 * under a random name (`.age` when encrypted: the data key's age file of the bytes), and the
 * journal's lines, signed. A file is read through shared/nofollow (every folder opened with
 * O_NOFOLLOW: a link swapped in after the walk is refused by name) and compared, before and after
 * the copy, with what the walk saw: a file changed while it was copied is not recorded, its
 * object removed, and the next look stores it again.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { encryptStream } from '../../../../shared/age';
import type { CaptureSeal, CaptureTarget } from '../../../../shared/capture/seal';
import { sealFields, type JournalFields } from '../../../../shared/capture/files-journal';
import { captureJournalPath, captureObjectPath } from '../../../../shared/destination/layout';
import type { NoFollowRoot } from '../../../../shared/nofollow';
import { NotFoundError } from '../../../../shared/errors';
import { HashingPassThrough } from '../../../archive/checksum';

/** A regular file as the walk saw it. */
export interface SeenFile {
  path: string;
  size: number;
  mtimeMs: number;
  ino?: number;
}

/** A new object id: 32 random hex digits. */
export const newObjectId = (): string => randomBytes(16).toString('hex');

const sameFile = (a: SeenFile, st: { size: number; mtimeMs: number; ino: number }): boolean =>
  a.size === st.size && a.mtimeMs === st.mtimeMs && (a.ino === undefined || a.ino === st.ino);

/** Removes an object of either kind (clear and age): what a crash or a torn copy left. */
export async function removeObject(t: CaptureTarget, id: string): Promise<void> {
  await t.dest.remove(captureObjectPath(t.cluster, t.node, id));
  await t.dest.remove(captureObjectPath(t.cluster, t.node, id, true));
}

/**
 * Stores the bytes of `f` as object `id`; returns the journal line's fields (without seq), or
 * null when the file is gone or no longer what the walk saw (the next look says which).
 * LinkRefusedError when a link stands on its path.
 */
export async function storeObject(t: CaptureTarget, seal: CaptureSeal, root: NoFollowRoot, f: SeenFile, id: string, now: () => number): Promise<JournalFields<'put'> | null> {
  let opened;
  try {
    opened = await root.openRead(f.path);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
  const { handle } = opened;
  try {
    if (!sameFile(f, await handle.stat())) return null;
    const clear = new HashingPassThrough();
    const stored = new HashingPassThrough();
    const source = f.size === 0 ? Readable.from([]) : handle.createReadStream({ start: 0, end: f.size - 1, autoClose: false });
    const path = captureObjectPath(t.cluster, t.node, id, seal.key !== null);
    let failed: Error | null = null;
    // The callback form hands back the last stage, a readable the upload takes: a failed read destroys it, and the put fails.
    const last = seal.key
      ? pipeline(source, clear, encryptStream([seal.key.recipient]), stored, (err) => (failed ??= err ?? null))
      : pipeline(source, clear, (err) => (failed ??= err ?? null));
    const put = await t.dest.put(path, last, seal.key ? {} : { size: f.size }).catch((err) => {
      source.destroy();
      throw err;
    });
    if (failed) throw failed;
    const after = await handle.stat();
    if (clear.bytes !== f.size || !sameFile(f, after)) {
      await removeObject(t, id);
      return null;
    }
    const storedAt = new Date(now()).toISOString();
    const mtime = new Date(f.mtimeMs).toISOString();
    if (!seal.key) return { kind: 'put', path: f.path, object: id, size: f.size, sha256: clear.digest(), mtime, storedAt };
    return { kind: 'put', key: seal.key.id, sealed: sealFields(seal.key.recipient, { path: f.path, size: f.size, mtime }), object: id, size: put.size, sha256: stored.digest(), storedAt };
  } finally {
    await handle.close();
  }
}

/** The fields of a removal's line (without seq). */
export function removeFields(seal: CaptureSeal, path: string, at: number): JournalFields<'remove'> {
  const removedAt = new Date(at).toISOString();
  return seal.key ? { kind: 'remove', key: seal.key.id, sealed: sealFields(seal.key.recipient, { path }), removedAt } : { kind: 'remove', path, removedAt };
}

/** Writes journal `n` whole from its signed lines (readers see the old one or the new one, never a torn file). */
export async function writeJournal(t: CaptureTarget, n: number, lines: readonly string[]): Promise<void> {
  await t.dest.writeAtomic(captureJournalPath(t.cluster, t.node, n), lines.map((l) => `${l}\n`).join(''));
}
