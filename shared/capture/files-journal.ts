/**
 * The journal of the file store's capture (tandem_capture/<cluster>/<node>/files/journal-<n>.ndjson):
 * one signed line per change the agent saw, in order, numbered by `seq` from 1 across the
 * journals. A `put` names the object holding a copy of the file's bytes (objects/<32 hex>, never
 * the attachment's name) with the size and sha256 of what is stored; a `remove` says when the
 * file was found gone. In an encrypted capture the path (and the file's clear size and mtime) is
 * inside `sealed`, an age file to the capture's data key, so neither a journal nor an object name
 * tells which attachment changed.
 *
 * This module holds the line's shapes for both sides and the reader: every line's signature is
 * checked (shared/capture/signed-line.ts, kind `file`) and every `seq` must follow the one before,
 * so a line edited, planted, moved or taken out of the middle is refused, naming the file and line.
 */
import { encrypt, decrypt } from '../age';
import type { Destination } from '../destination';
import { captureJournalPath, captureObjectPath, CAPTURE_OBJECT_ID } from '../destination/layout';
import { NotFoundError, ValidationError } from '../errors';
import { z } from 'zod';
import type { CaptureKeys } from './capture-key';
import { openLine, type LineTrust } from './signed-line';

/** The agent starts a new journal once the current one holds this many lines: no file is rewritten forever. */
export const JOURNAL_MAX_LINES = 1000;
/** …or this many bytes, whichever comes first. */
export const JOURNAL_ROTATE_BYTES = 1024 * 1024;
/** A reader refuses a larger journal unread (JOURNAL_ROTATE_BYTES, and one batch of lines of at most ~8 KiB past it). */
export const JOURNAL_MAX_BYTES = 4 * 1024 * 1024;
/** A sealed field is never longer (base64 of an age file holding a path). */
const SEALED_MAX_CHARS = 16 * 1024;

/** The reason `p` cannot be a path of the folder store in the journal, or null when it can. */
export function storePathProblem(p: string): string | null {
  if (p.length === 0) return 'it is empty';
  if (p.length > 4096) return 'it is longer than 4096 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) return 'it contains a control character';
  if (p.startsWith('/')) return 'it is absolute';
  for (const seg of p.split('/')) if (seg === '' || seg === '.' || seg === '..') return `it has a segment ${JSON.stringify(seg)}`;
  return null;
}

const storePath = z.string().superRefine((p, ctx) => {
  const why = storePathProblem(p);
  if (why) ctx.addIssue({ code: 'custom', message: `path ${JSON.stringify(p.slice(0, 200))}: ${why}` });
});
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const size = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const instant = z.iso.datetime();
const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const keyId = z.string().regex(/^[0-9a-f]{32}$/);
const sealed = z.string().min(1).max(SEALED_MAX_CHARS);

/** The fields of a journal line, as signed. `size` and `sha256` are those of the stored object (the age file when encrypted). */
export const journalLineSchema = z.union([
  z.strictObject({ seq, kind: z.literal('put'), path: storePath, object: z.string().regex(CAPTURE_OBJECT_ID), size, sha256, mtime: instant, storedAt: instant }),
  z.strictObject({ seq, kind: z.literal('put'), key: keyId, sealed, object: z.string().regex(CAPTURE_OBJECT_ID), size, sha256, storedAt: instant }),
  z.strictObject({ seq, kind: z.literal('remove'), path: storePath, removedAt: instant }),
  z.strictObject({ seq, kind: z.literal('remove'), key: keyId, sealed, removedAt: instant }),
]);
/** A journal line's fields. */
export type JournalLine = z.output<typeof journalLineSchema>;

/** The fields of a line of `kind` before the capture numbers it (no seq). */
export type JournalFields<K extends JournalLine['kind']> = Extract<JournalLine, { kind: K }> extends infer L ? (L extends unknown ? Omit<L, 'seq'> : never) : never;

/** What `sealed` holds: the path, and for a put the file's clear size and mtime. */
export const sealedFieldsSchema = z.strictObject({ path: storePath, size: size.optional(), mtime: instant.optional() });
/** What `sealed` holds. */
export type SealedFields = z.output<typeof sealedFieldsSchema>;

/** `fields` encrypted to the capture's data key, base64: what an encrypted journal line carries in place of the path. */
export const sealFields = (recipient: string, fields: SealedFields): string => encrypt([recipient], Buffer.from(JSON.stringify(fields))).toString('base64');

/** One version of a file in the capture: where its copy is and what it must be. */
export interface CapturedFile {
  path: string;
  /** The object's path at the destination. */
  object: string;
  /** The file's size (clear). */
  size: number;
  /** Size and sha256 of the stored object (the age file when encrypted). */
  stored: { size: number; sha256: string };
  /** The data key the object is encrypted to; null in clear. */
  key: string | null;
  mtimeMs: number;
  storedAt: number;
}

/** A change of the folder, as the journal says it, its path opened. */
export type JournalEntry = { seq: number; at: number; kind: 'put'; file: CapturedFile } | { seq: number; at: number; kind: 'remove'; path: string };

/** What a reader of the capture checks with: the agents' certificates, and the operator's identities for an encrypted capture. */
export interface FilesReader {
  trust: LineTrust;
  keys?: CaptureKeys;
}

/**
 * Every change of the journals of `node`'s file store capture, in order, each line's signature
 * and sequence checked. ValidationError for the first line that does not check: nothing after a
 * refused line can be trusted to say the folder's state.
 */
export async function readJournal(dest: Destination, cluster: string, node: string, reader: FilesReader): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  let expected = 1;
  // Journals are read by number, not listed: the files folder also holds every object, far too many to list.
  for (let n = 1; ; n++) {
    const path = captureJournalPath(cluster, node, n);
    const body = await dest.readSmall(path, JOURNAL_MAX_BYTES).catch((err: unknown) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
    if (body === null) {
      if ((await dest.stat(captureJournalPath(cluster, node, n + 1))) !== null) throw new ValidationError(`${path} is missing, and journal ${n + 1} follows it: the capture's journals were cut at the destination`);
      break;
    }
    const text = body.toString('utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let j = 0; j < lines.length; j++) {
      const where = `${path} line ${j + 1}`;
      const r = journalLineSchema.safeParse(await openLine(reader.trust, 'file', cluster, node, lines[j], where));
      if (!r.success) throw new ValidationError(`${where} is not a journal line (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
      const l = r.data;
      if (l.seq !== expected) throw new ValidationError(`${where} has seq ${l.seq} where ${expected} was due: a line was taken out, moved or repeated at the destination`);
      expected++;
      out.push(await entryOf(l, { dest, cluster, node, reader, where }));
    }
  }
  return out;
}

async function entryOf(l: JournalLine, c: { dest: Destination; cluster: string; node: string; reader: FilesReader; where: string }): Promise<JournalEntry> {
  let path: string;
  let clear: SealedFields | null = null;
  if ('key' in l) {
    if (!c.reader.keys) throw new ValidationError(`${c.where}: ${c.node}'s file store capture is encrypted: give the identity of one of the fleet's recipients`);
    const identity = await c.reader.keys.identity(c.cluster, c.node, l.key);
    let fields: unknown;
    try {
      fields = JSON.parse(decrypt([identity], Buffer.from(l.sealed, 'base64')).toString('utf8'));
    } catch (err) {
      throw new ValidationError(`${c.where}: its sealed fields do not open with the capture's key ${l.key} (${(err as Error).message})`);
    }
    const r = sealedFieldsSchema.safeParse(fields);
    if (!r.success || (l.kind === 'put' && (r.data.size === undefined || r.data.mtime === undefined))) throw new ValidationError(`${c.where}: its sealed fields are not a journal line's`);
    clear = r.data;
    path = clear.path;
  } else {
    path = l.path;
  }
  if (l.kind === 'remove') return { seq: l.seq, at: Date.parse(l.removedAt), kind: 'remove', path };
  const sealedKey = 'key' in l ? l.key : null;
  const file: CapturedFile = {
    path,
    object: captureObjectPath(c.cluster, c.node, l.object, sealedKey !== null),
    size: clear ? clear.size! : l.size,
    stored: { size: l.size, sha256: l.sha256 },
    key: sealedKey,
    mtimeMs: Date.parse(clear ? clear.mtime! : (l as { mtime: string }).mtime),
    storedAt: Date.parse(l.storedAt),
  };
  return { seq: l.seq, at: file.storedAt, kind: 'put', file };
}

/**
 * The folder as the capture saw it at `at` (ms since the epoch, the agent's clock): every path
 * whose last change at or before `at` is a put, with the copy that put stored.
 */
export function stateAt(entries: readonly JournalEntry[], at: number): Map<string, CapturedFile> {
  const state = new Map<string, CapturedFile>();
  for (const e of entries) {
    if (e.at > at) continue;
    if (e.kind === 'put') state.set(e.file.path, e.file);
    else state.delete(e.path);
  }
  return state;
}
