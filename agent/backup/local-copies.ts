/**
 * Plaintext copies, in the agent's state folder, of the small files it stored encrypted in its
 * latest sets (contents.json, schema.cql, ring.json): an agent holds no identity, so this is how
 * the next incremental set learns what the parent holds without reading it back. A copy is used
 * only when the stored file's sha256 that the parent's signed manifest records is the one the
 * agent wrote; otherwise the role stores everything again. Files and folders are the agent's
 * alone (0600, 0700). Copies of the two newest sets are kept: the newest may be one that aborted.
 */
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { TandemError } from '../../shared/errors';
import { AGE_SUFFIX } from '../../shared/encrypted-set';
import type { FileRef } from '../../shared/parts';

/** How many sets' copies are kept. */
const KEPT_SETS = 2;

const storedSchema = z.strictObject({ path: z.string(), size: z.int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

/** The plaintext copies of one agent, under `<stateDir>/sealed/<set id>/…`. */
export class LocalCopies {
  constructor(private readonly dir: string) {}

  /** The local file of the set file `relPath` (`<id>/<node>/…`); refused outside the folder. */
  private fileOf(relPath: string): string {
    const file = join(this.dir, relPath);
    const rel = relative(this.dir, file);
    if (rel.startsWith('..') || rel === '' || rel.split('/').some((s) => s.startsWith('.'))) throw new TandemError(`${relPath}: not a path of a backup set`);
    return file;
  }

  /** Keeps `plain`, the content of the set file `relPath`, stored as `stored`; prunes older sets' copies. */
  async keep(relPath: string, plain: Buffer, stored: FileRef): Promise<void> {
    const file = this.fileOf(relPath);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    for (const [f, body] of [[file, plain], [`${file}.stored.json`, JSON.stringify(stored)]] as const) {
      await writeFile(`${f}.tmp`, body, { mode: 0o600 });
      await rename(`${f}.tmp`, f);
    }
    await this.prune(relPath.split('/')[0]);
  }

  /** Keeps a copy of `localFile`, the content of the set file `relPath` (a files listing, too large to hold), stored as `stored`. */
  async keepFile(relPath: string, localFile: string, stored: FileRef): Promise<void> {
    const file = this.fileOf(relPath);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await copyFile(localFile, `${file}.tmp`);
    await chmod(`${file}.tmp`, 0o600);
    await rename(`${file}.tmp`, file);
    await writeFile(`${file}.stored.json.tmp`, JSON.stringify(stored), { mode: 0o600 });
    await rename(`${file}.stored.json.tmp`, `${file}.stored.json`);
    await this.prune(relPath.split('/')[0]);
  }

  /** The local file holding the plaintext of the set file stored as `stored`, or null when no copy matches it. */
  async fileFor(stored: FileRef): Promise<string | null> {
    if (!stored.path.endsWith(AGE_SUFFIX)) return null;
    const file = this.fileOf(stored.path.slice(0, -AGE_SUFFIX.length));
    const meta = await readFile(`${file}.stored.json`, 'utf8').then((t) => storedSchema.safeParse(JSON.parse(t)).data, () => undefined);
    if (!meta || meta.path !== stored.path || meta.size !== stored.size || meta.sha256 !== stored.sha256) return null;
    return (await stat(file).catch(() => null))?.isFile() ? file : null;
  }

  /**
   * The plaintext of the set file stored as `stored` (its `.age` path, size and sha256, as a
   * manifest records it), or null when no copy matches it (then the caller reads nothing of it).
   */
  async read(stored: FileRef): Promise<Buffer | null> {
    if (!stored.path.endsWith(AGE_SUFFIX)) return null;
    const file = this.fileOf(stored.path.slice(0, -AGE_SUFFIX.length));
    const meta = await readFile(`${file}.stored.json`, 'utf8').then((t) => storedSchema.safeParse(JSON.parse(t)).data, () => undefined);
    if (!meta || meta.path !== stored.path || meta.size !== stored.size || meta.sha256 !== stored.sha256) return null;
    return readFile(file).catch(() => null);
  }

  /** Removes the copies of every set but `current` and the newest other ones, up to KEPT_SETS in all. */
  private async prune(current: string): Promise<void> {
    const sets = await readdir(this.dir).catch(() => [] as string[]);
    const dated = await Promise.all(sets.filter((s) => s !== current).map(async (s) => ({ s, at: (await stat(join(this.dir, s)).catch(() => null))?.mtimeMs ?? 0 })));
    dated.sort((a, b) => b.at - a.at);
    for (const { s } of dated.slice(KEPT_SETS - 1)) await rm(join(this.dir, s), { recursive: true, force: true });
  }
}
