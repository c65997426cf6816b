/** Helpers shared by the folder and bucket stores: hashed uploads, throttled progress, the ship summary. */
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingPassThrough } from '../../archive/checksum';
import { producedAndPut, retryStreamedPut, type Destination } from '../../../shared/destination';
import { formatBytes } from '../../../shared/format';
import { throttle } from '../../../shared/progress';
import type { ProgressUpdate, RoleContext } from '../role';
import type { FilesPart } from '../../../shared/parts/files';
import { randomBytes } from 'node:crypto';
import { attachmentFilePath, sealedAttachmentPath } from '../../../shared/destination/layout';
import { isSealed, sealedAs } from '../../backup/sealed-destination';

/** One file stored at the destination, as the manifest lists it. */
export interface StoredFile {
  path: string;
  size: number;
  sha256: string;
  etag?: string;
  /** In an encrypted set, the attachment's opaque name and the stored ciphertext's size and sha256. */
  sealed?: Sealed;
}

/** What an encrypted set's listing records of a stored attachment. */
export interface Sealed {
  name: string;
  size: number;
  sha256: string;
}

/**
 * Where attachment `name` of the store is put: under its store name in a clear set, under a fresh
 * opaque name (`sealedName`) in an encrypted one, whose listing alone says which is which.
 */
export function attachmentTarget(dest: Destination, id: string, node: string, store: 'localfs' | 's3', name: string): { path: string; sealedName?: string } {
  if (!isSealed(dest)) return { path: attachmentFilePath(id, node, store, name) };
  const sealedName = randomBytes(16).toString('hex');
  return { path: sealedAttachmentPath(id, node, sealedName), sealedName };
}

/** A source name that cannot become a destination path (destinations accept [A-Za-z0-9._/-] only). */
export interface Unstorable {
  path: string;
  reason: string;
}

/**
 * A signal that follows `parent` and tolerates `listeners` listeners: each concurrent transfer
 * adds a few abort listeners, and Node warns about a leak past 10 on one signal.
 */
export function linkedSignal(parent: AbortSignal, listeners: number): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  setMaxListeners(listeners, ac.signal);
  const onAbort = () => ac.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return { signal: ac.signal, dispose: () => parent.removeEventListener('abort', onAbort) };
}

/**
 * Streams the file `open` reads to the destination while hashing it: every byte is read once. An
 * upload cut short on its way is sent again from a fresh `open()` (attempt counts from 1). In an
 * encrypted set the destination stores it as `relPath.age`, and `sealed` says what it stored.
 */
export async function putHashed(dest: Destination, relPath: string, open: (attempt: number) => Readable | Promise<Readable>, signal: AbortSignal): Promise<{ size: number; sha256: string; sealed?: Omit<Sealed, 'name'> }> {
  return retryStreamedPut(async (attempt) => {
    const hasher = new HashingPassThrough();
    // Both sides run together: pipeline feeds the hasher, put drains it.
    await producedAndPut(pipeline(await open(attempt), hasher, { signal }), dest.put(relPath, hasher, { signal }));
    const sealed = sealedAs(dest, relPath);
    return { size: hasher.bytes, sha256: hasher.digest(), ...(sealed ? { sealed } : {}) };
  }, { signal });
}

/** Counts files and bytes of a copy and reports them, throttled (each report is a state update sent to the coordinator). */
export function progressReporter(ctx: Pick<RoleContext, 'progress'>, filesTotal: number, bytesTotal: number, phase = 'copy') {
  let filesDone = 0;
  let bytesDone = 0;
  const report = throttle((u: ProgressUpdate) => ctx.progress(u));
  const send = () => report({ phase, filesDone, filesTotal, bytesDone, bytesTotal });
  send();
  return {
    /** Counts one finished (or skipped) file. */
    add(bytes: number) {
      filesDone++;
      bytesDone += bytes;
      send();
    },
  };
}

/** What a files ship did not copy as cut: counts. */
export interface Deviations {
  changed: number;
  missing: number;
  unstorable: number;
}

/** The one-line summary of a files ship, saying plainly what was not copied as cut and what earlier sets keep. */
export function shipSummary(stored: { files: number; bytes: number }, d: Deviations, referenced: { files: number; bytes: number } = { files: 0, bytes: 0 }): string {
  const kept = referenced.files ? `, ${referenced.files} unchanged kept by earlier sets (${formatBytes(referenced.bytes)})` : '';
  const problems = [
    d.missing && `${d.missing} missing (deleted after the cut)`,
    d.changed && `${d.changed} changed after the cut (copied as found)`,
    d.unstorable && `${d.unstorable} not stored (names a destination cannot hold)`,
  ].filter(Boolean);
  return `copied ${stored.files} files (${formatBytes(stored.bytes)})${kept}` + (problems.length ? `; ${problems.join(', ')}` : '; nothing changed since the cut');
}

/**
 * The files part of either store: what was stored, what deviated from the cut, the listing and
 * what earlier sets keep; `storedIn` is given for an encrypted set only (see filesPartSchema).
 */
export function filesPart(
  store: FilesPart['store'],
  location: string,
  stored: { files: number; bytes: number },
  d: DeviationCounter,
  summary: string,
  listing: FilesPart['listing'],
  referenced: FilesPart['referenced'],
  storedIn?: string[],
): FilesPart {
  return {
    store, location, fileCount: stored.files, bytes: stored.bytes,
    // An encrypted set's part is in clear: its file names stay in the encrypted listing only.
    deviations: { changed: d.changed, missing: d.missing, unstorable: d.unstorable, examples: storedIn ? [] : d.examples() },
    summary, listing, referenced,
    ...(storedIn ? { storedIn } : {}),
  };
}

/**
 * Counts what did not make it as cut and keeps the first few paths of each kind for the part
 * (the listing holds them all).
 */
export class DeviationCounter implements Deviations {
  changed = 0;
  missing = 0;
  unstorable = 0;
  private readonly first: Record<keyof Deviations, string[]> = { changed: [], missing: [], unstorable: [] };

  /** Counts one path of a kind. */
  add(kind: keyof Deviations, path: string): void {
    this[kind]++;
    if (this.first[kind].length < 20) this.first[kind].push(path);
  }

  /** Up to 20 paths of each kind, missing first, as the part's `examples`. */
  examples(): string[] {
    return [...this.first.missing, ...this.first.changed, ...this.first.unstorable];
  }
}
