/**
 * The destination as a role of an encrypted set sees it: every file a role stores (put or
 * writeAtomic) is encrypted to the set's recipient in the age format and lands under its name +
 * `.age`; nothing reaches the destination in clear. Roles keep writing and describing their files
 * by their plain names; the ship step asks this wrapper what was stored for each (the `.age`
 * path, its size and sha256), which is what part.json's file list and the signed manifest record,
 * so verify checks the bytes at the destination without any identity. The agent holds only the
 * recipient: it cannot read back what it wrote.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encrypt, encryptStream } from '../../shared/age';
import type { Destination, PutOptions, PutResult } from '../../shared/destination';
import { TandemError } from '../../shared/errors';
import { storedPath } from '../../shared/encrypted-set';
import type { FileRef } from '../../shared/parts';
import type { LocalCopies } from './local-copies';


/** What a role's file became at the destination. */
export type StoredFile = FileRef;

/** A destination that encrypts every file stored through it to one age recipient. */
export class SealedDestination implements Destination {
  private readonly stored = new Map<string, StoredFile>();

  /** `copies` keeps the plaintext of the small files written whole (contents.json…) for the next incremental set. */
  constructor(private readonly inner: Destination, readonly recipient: string, private readonly copies?: LocalCopies) {}

  describe(): string {
    return `${this.inner.describe()} (encrypted to ${this.recipient})`;
  }

  /** Encrypts `source` on its way: the plain bytes are counted (opts.size checks them), the stored ones hashed. */
  async put(relPath: string, source: string | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const plain = typeof source === 'string' ? createReadStream(source) : source;
    let plainBytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        plainBytes += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        // A short or long source fails the put as the inner destination would for a plain one.
        cb(opts.size !== undefined && plainBytes !== opts.size ? new TandemError(`${relPath}: ${plainBytes} bytes read, ${opts.size} expected`) : null);
      },
    });
    const hash = createHash('sha256');
    let storedBytes = 0;
    const sealed = new PassThrough();
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        storedBytes += chunk.length;
        cb(null, chunk);
      },
    });
    const path = storedPath(relPath);
    // A put that fails ends the encryption too, which would otherwise wait for a reader forever.
    const stored = this.inner.put(path, sealed, { signal: opts.signal }).catch((err: unknown) => {
      sealed.destroy(err as Error);
      throw err;
    });
    const [, result] = await Promise.all([pipeline(plain, counter, encryptStream([this.recipient]), tap, sealed, { signal: opts.signal }), stored]);
    if (result.size !== storedBytes) throw new TandemError(`${path}: ${result.size} bytes stored, ${storedBytes} encrypted`);
    this.stored.set(relPath, { path, size: storedBytes, sha256: hash.digest('hex') });
    return { ...result, size: plainBytes };
  }

  /** Encrypts a small file whole and writes it atomically under its name + `.age`. */
  async writeAtomic(relPath: string, data: Buffer | string): Promise<void> {
    const body = encrypt([this.recipient], typeof data === 'string' ? Buffer.from(data) : data);
    const path = storedPath(relPath);
    await this.inner.writeAtomic(path, body);
    const stored = { path, size: body.length, sha256: createHash('sha256').update(body).digest('hex') };
    this.stored.set(relPath, stored);
    await this.copies?.keep(relPath, typeof data === 'string' ? Buffer.from(data) : data, stored);
  }

  /**
   * What the role's file `ref` (its plain name) was stored as. Throws when it was not stored
   * through this destination: a file recorded without its ciphertext would be a file in clear,
   * or one the manifest could not vouch for.
   */
  storedAs(ref: FileRef): StoredFile {
    const s = this.stored.get(ref.path);
    if (!s) throw new TandemError(`${ref.path} was not stored through the set's encryption: refusing to record a file of an encrypted set that may be in clear`);
    return s;
  }

  /**
   * What the attachment `relPath` was stored as (its ciphertext's size and sha256), forgotten
   * here once taken: attachments are recorded in the (encrypted) listing, not in the manifest,
   * and a store of millions must not stay in memory.
   */
  takeSealed(relPath: string): { size: number; sha256: string } {
    const s = this.stored.get(relPath);
    if (!s) throw new TandemError(`${relPath} was not stored through the set's encryption: refusing to list an attachment of an encrypted set that may be in clear`);
    this.stored.delete(relPath);
    return { size: s.size, sha256: s.sha256 };
  }

  /** Keeps `localFile`, the plaintext of the streamed file `relPath` just stored (a files listing), for the next incremental set. */
  async keepCopy(relPath: string, localFile: string): Promise<void> {
    await this.copies?.keepFile(relPath, localFile, this.storedAs({ path: relPath, size: 0, sha256: '' }));
  }

  // Reading, listing and removing see the destination as it is: the role's own encrypted files
  // are not readable here (the agent has no identity), and an abort removes them by folder.
  get(relPath: string) { return this.inner.get(relPath); }
  readSmall(relPath: string, maxBytes: number) { return this.inner.readSmall(relPath, maxBytes); }
  stat(relPath: string) { return this.inner.stat(relPath); }
  list(prefix: string) { return this.inner.list(prefix); }
  folders(prefix: string) { return this.inner.folders(prefix); }
  newestChange(prefix: string) { return this.inner.newestChange(prefix); }
  remove(prefix: string) { return this.inner.remove(prefix); }
  readVersioned(relPath: string, maxBytes: number) { return this.inner.readVersioned(relPath, maxBytes); }
  checkWritable() { return this.inner.checkWritable(); }
  // Lock files and markers are the coordinator's; a role never writes them through its context.
  createExclusive(): Promise<string> { throw new TandemError('createExclusive is not offered to a role of an encrypted set'); }
  replaceIf(): Promise<string> { throw new TandemError('replaceIf is not offered to a role of an encrypted set'); }
}

/** True when `dest` encrypts what a role stores through it. */
export const isSealed = (dest: Destination): boolean => dest instanceof SealedDestination;

/** The ciphertext's size and sha256 of the attachment `relPath` when `dest` encrypts (else undefined: a clear set). */
export function sealedAs(dest: Destination, relPath: string): { size: number; sha256: string } | undefined {
  return dest instanceof SealedDestination ? dest.takeSealed(relPath) : undefined;
}

/** Keeps the plaintext `localFile` of the streamed file `relPath` when `dest` encrypts (a no-op for a clear set). */
export async function keepLocalCopy(dest: Destination, relPath: string, localFile: string): Promise<void> {
  if (dest instanceof SealedDestination) await dest.keepCopy(relPath, localFile);
}

/** The destination a role of backup `setRecipient` writes through: sealed when the set is encrypted. */
export function roleDestination(inner: Destination, setRecipient: string | null, copies?: LocalCopies): Destination {
  return setRecipient ? new SealedDestination(inner, setRecipient, copies) : inner;
}
