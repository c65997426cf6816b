/**
 * Reading the file store's capture back: the folder's state at an instant (files-journal.ts), and
 * the copies of that state written into a fresh folder. Every object is read bounded by the size
 * its signed line names and its sha256 checked (an encrypted one also decrypted, its clear size
 * checked) before its file appears under its name; nothing in the target is followed through a
 * link: each folder is opened with O_NOFOLLOW and each file created with O_EXCL under a
 * temporary name, then renamed in the folder it was made in (shared/nofollow).
 */
import { promises as fs } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { decryptStream } from '../age';
import type { Destination } from '../destination';
import { ValidationError } from '../errors';
import { NoFollowRoot, handleSink } from '../nofollow';
import { readJournal, stateAt, type CapturedFile, type FilesReader, type JournalEntry } from './files-journal';

/** Counts and hashes what flows through, and fails past `max` bytes: a stored object is never read past the size its line names. */
class Bounded extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly max: number, private readonly what: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) return cb(new ValidationError(`${this.what} is larger than the ${this.max} bytes its journal line names: refused`));
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** The capture of one node's file store at a destination, read with the fleet's trust. */
export class FilesCaptureReader {
  private entries: Promise<JournalEntry[]> | null = null;

  constructor(private readonly dest: Destination, private readonly cluster: string, private readonly node: string, private readonly reader: FilesReader) {}

  /** Every change, checked (readJournal); read once. */
  journal(): Promise<JournalEntry[]> {
    this.entries ??= readJournal(this.dest, this.cluster, this.node, this.reader);
    return this.entries;
  }

  /** The folder at `at` (ms since the epoch): path → the copy to restore. */
  async filesAt(at: number): Promise<Map<string, CapturedFile>> {
    return stateAt(await this.journal(), at);
  }

  /**
   * Writes `files` into `target`, a folder that does not exist yet (made here, mode 0o750) or is
   * empty; returns the files and bytes written. Each file gets its captured mtime; a copy that
   * does not check is refused (ValidationError naming it) and nothing of it is left.
   */
  async copyTo(files: ReadonlyMap<string, CapturedFile>, target: string): Promise<{ files: number; bytes: number }> {
    if (!target.startsWith('/')) throw new ValidationError(`target ${JSON.stringify(target)} must be an absolute path`);
    await fs.mkdir(target, { mode: 0o750 }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      const st = await fs.lstat(target);
      if (!st.isDirectory() || (await fs.readdir(target)).length) throw new ValidationError(`target ${target} exists and is not an empty folder: the capture is written into a fresh one`);
    });
    const root = new NoFollowRoot(target, `files target ${target}`, { strictRoot: true });
    let bytes = 0;
    for (const f of [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
      await this.copyOne(root, f);
      bytes += f.size;
    }
    return { files: files.size, bytes };
  }

  private async copyOne(root: NoFollowRoot, f: CapturedFile): Promise<void> {
    const out = await root.create(f.path, { mode: 0o640, dirMode: 0o750 });
    try {
      const stored = new Bounded(f.stored.size, f.object);
      const clear = new Bounded(f.size, `${f.object} (decrypted)`);
      const steps: NodeJS.ReadWriteStream[] = [stored];
      if (f.key) steps.push(decryptStream([await this.reader.keys!.identity(this.cluster, this.node, f.key)]), clear);
      await pipeline([await this.dest.get(f.object), ...steps, handleSink(out.handle)]);
      if (stored.bytes !== f.stored.size || stored.digest() !== f.stored.sha256) throw new ValidationError(`${f.object} is not the copy of ${JSON.stringify(f.path)} its journal line names (size or sha256 differs): it was changed at the destination`);
      if (f.key && clear.bytes !== f.size) throw new ValidationError(`${f.object} decrypts to ${clear.bytes} bytes, not the ${f.size} of ${JSON.stringify(f.path)}: refused`);
      const mtime = new Date(f.mtimeMs);
      await out.handle.utimes(mtime, mtime);
    } catch (err) {
      await out.discard();
      throw err;
    }
    await out.commit();
  }
}
