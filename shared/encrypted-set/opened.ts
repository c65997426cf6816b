/**
 * The destination as a role restoring an encrypted set sees it: a role asks for a file by the
 * plain name its part records (`…/part.txt`, `…/table.tbz`), and gets the plaintext of the stored
 * `….age` file. The stored bytes are checked first against what the signed manifest records for
 * them (size, as a bound on the read, and sha256): age alone would not do, since anyone holding the
 * set's public recipient (every agent) can write a valid age file to it. The plaintext's last chunk
 * is released only after the ciphertext's digest matched, so a replaced file fails the role's
 * pipeline before its end; roles keep their own checks of the plaintext as for a clear set.
 * The set's identity lives in this object only, never on disk.
 */
import type { Readable } from 'node:stream';
import { decryptStream, parseIdentity, type X25519Identity } from '../age';
import type { Destination, PutOptions, PutResult } from '../destination';
import { NotFoundError, TandemError, ValidationError } from '../errors';
import type { Manifest } from '../manifest';
import type { FileRef } from '../parts';
import { RefCheck, type RefCheckWords } from '../parts/ref-check';
import { storedPath } from './names';

/** The stored bytes against what the signed manifest records for them. */
const STORED: RefCheckWords = {
  tooLarge: (ref) => `${ref.path} is larger than the ${ref.size} bytes the manifest records: refused before decrypting further`,
  mismatch: (ref, seen, got) => `${ref.path}: ${seen} bytes with sha256 ${got}, the manifest records ${ref.size} bytes with sha256 ${ref.sha256}; the file is corrupt or was replaced, refused`,
};

/** Every FileRef-shaped value inside `v` (a role's part): the plain names and sizes a role reads by. */
function plainRefs(v: unknown, out: Map<string, FileRef>): Map<string, FileRef> {
  if (Array.isArray(v)) v.forEach((x) => plainRefs(x, out));
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.path === 'string' && typeof o.size === 'number' && typeof o.sha256 === 'string') out.set(o.path, { path: o.path, size: o.size, sha256: o.sha256 });
    else Object.values(o).forEach((x) => plainRefs(x, out));
  }
  return out;
}

/** A read-only view of an encrypted set that decrypts every file it hands out. */
export class OpenedDestination implements Destination {
  /** What the manifest records for each stored file, this set's and the earlier sets' it references. */
  private readonly stored = new Map<string, FileRef>();
  private readonly plain = new Map<string, FileRef>();

  constructor(private readonly inner: Destination, private readonly identities: readonly X25519Identity[], manifest: Pick<Manifest, 'files' | 'references' | 'nodes'>) {
    for (const f of [...manifest.files, ...manifest.references]) this.stored.set(f.path, f);
    for (const n of manifest.nodes) plainRefs(n.parts, this.plain);
  }

  describe(): string {
    return `${this.inner.describe()} (decrypting with the set key)`;
  }

  /** The stored file of the plain name `relPath`, as the manifest records it; NotFoundError when the set does not hold it. */
  private storedOf(relPath: string): FileRef {
    const ref = this.stored.get(storedPath(relPath));
    if (!ref) throw new NotFoundError(`${storedPath(relPath)} is not a file of this encrypted set's manifest`, { path: relPath });
    return ref;
  }

  async get(relPath: string): Promise<Readable> {
    return this.decrypting(this.storedOf(relPath));
  }

  /**
   * The plaintext of the attachment `relPath`, stored as `relPath.age` with the ciphertext's size
   * and sha256 that the (authenticated) listing records: attachments are listed there, not in
   * the manifest. Checked as get checks a manifest's file.
   */
  async getAttachment(relPath: string, sealed: { size: number; sha256: string }): Promise<Readable> {
    return this.decrypting({ path: storedPath(relPath), size: sealed.size, sha256: sealed.sha256 });
  }

  private async decrypting(ref: FileRef): Promise<Readable> {
    const source = await this.inner.get(ref.path);
    const check = new RefCheck(ref, STORED);
    const opened = decryptStream(this.identities);
    // Errors travel downstream, so the role's own pipeline fails with the reason.
    source.on('error', (err) => opened.destroy(err));
    check.on('error', (err) => opened.destroy(err));
    // A reader that stops early (an abort, a bounded read) closes the stored file too.
    opened.once('close', () => {
      check.destroy();
      source.destroy();
    });
    return source.pipe(check).pipe(opened);
  }

  async readSmall(relPath: string, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of await this.get(relPath)) {
      chunks.push(c as Buffer);
      n += (c as Buffer).length;
      if (n > maxBytes) throw new ValidationError(`${relPath} is larger than ${maxBytes} bytes`, { path: relPath });
    }
    return Buffer.concat(chunks);
  }

  /** The plain size the role's part records, when the stored file is there. */
  async stat(relPath: string): Promise<{ size: number } | null> {
    const ref = this.stored.get(storedPath(relPath));
    const plain = this.plain.get(relPath);
    if (!ref || !plain) return null;
    return (await this.inner.stat(ref.path)) ? { size: plain.size } : null;
  }

  list(prefix: string) { return this.inner.list(prefix); }
  folders(prefix: string) { return this.inner.folders(prefix); }
  newestChange(prefix: string) { return this.inner.newestChange(prefix); }
  readVersioned(relPath: string, maxBytes: number) { return this.inner.readVersioned(relPath, maxBytes); }
  checkWritable() { return this.inner.checkWritable(); }

  // A restore only reads the set.
  put(_relPath: string, _source: string | Readable, _opts?: PutOptions): Promise<PutResult> { return refused('put'); }
  remove(): Promise<void> { return refused('remove'); }
  writeAtomic(): Promise<void> { return refused('writeAtomic'); }
  createExclusive(): Promise<string> { return refused('createExclusive'); }
  replaceIf(): Promise<string> { return refused('replaceIf'); }
}

/**
 * The plaintext of the listed attachment at `relPath` (entry: its listing entry): decrypted and
 * checked through the set key when `dest` is an opened encrypted set, read as it is otherwise.
 * An encrypted set's entry without its ciphertext record is refused: the bytes could not be
 * checked before they are decrypted.
 */
export async function attachmentSource(dest: Destination, relPath: string, entry: { sealed?: { size: number; sha256: string } }): Promise<Readable> {
  if (!(dest instanceof OpenedDestination)) {
    if (entry.sealed) throw new ValidationError(`${relPath}: the listing records an encrypted attachment, but the set is read as a clear one; the listing was altered, the backup set is damaged`, { path: relPath });
    return dest.get(relPath);
  }
  if (!entry.sealed) throw new ValidationError(`${relPath}: the listing of an encrypted set records no ciphertext size and sha256 for this attachment; the listing was altered, the backup set is damaged`, { path: relPath });
  return dest.getAttachment(relPath, entry.sealed);
}

const refused = (what: string): Promise<never> => Promise.reject(new TandemError(`${what}: a restore of an encrypted set does not write to the destination`));

/**
 * The destination the roles restore `manifest`'s set from. An encrypted set (its manifest records
 * the set's recipient) needs the set identity the coordinator sent, and only the one of that
 * recipient; a clear set is read as it is, and refuses an identity it has no use for.
 */
export function restoreDestination(inner: Destination, manifest: Manifest, setIdentities: readonly string[]): Destination {
  const recipient = manifest.options.setRecipient;
  if (!recipient) {
    if (setIdentities.length) throw new ValidationError(`setIdentities: backup set ${manifest.id} is not encrypted, but the request carries set identities`);
    return inner;
  }
  if (!setIdentities.length) throw new ValidationError(`setIdentities: backup set ${manifest.id} is encrypted (to ${recipient}): the coordinator must open its set key (give tandem --identity FILE)`);
  if (setIdentities.length > 1000) throw new ValidationError('setIdentities: more than 1000');
  const identities = setIdentities.map((text, i) => {
    try {
      return parseIdentity(text);
    } catch {
      // The message of a parse error could quote the secret: say only what it is not.
      throw new ValidationError(`setIdentities[${i}]: not an age identity (AGE-SECRET-KEY-1…)`);
    }
  });
  if (identities[0].recipient.toString() !== recipient) throw new ValidationError(`setIdentities[0]: the identity sent is for ${identities[0].recipient.toString()}, but backup set ${manifest.id} is encrypted to ${recipient}`);
  return new OpenedDestination(inner, identities, manifest);
}
