/**
 * The files listing as a stream (`tandem.files-listing/v3`, `<set>/<node>/files/listing.ndjson`):
 * one JSON record per line, so a store of millions of attachments is written while it is walked
 * and read back line by line, never held whole. Line 1 is the header (store, cut instant); each
 * further line holds one key: `dir`, `file` or `object` (in store order, see compareStorePaths),
 * `changed`, `missing` or `unstorable` (what did not make it as cut), and the last line `end`
 * (counts and summary), so a listing cut short is told from a complete one.
 *
 * A listing of the former format (`tandem.files-listing/v2`, one JSON document in listing.json)
 * is still read: it is parsed whole, as before, and handed out as the same records.
 */
import { StringDecoder } from 'node:string_decoder';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ValidationError } from '../errors';
import { epochMs } from './common';
import { filesListingSchema, listedDirSchema, listedFileSchema, listedObjectSchema, type ListedDir, type ListedFile, type ListedObject } from './files';
import type { FileRef } from './common';
import { firstIssue } from '../errors';

/** The format of a streamed listing. */
export const LISTING_FORMAT = 'tandem.files-listing/v3';

/**
 * The order of a store's entries in a listing: path segment by segment, each by UTF-16 code
 * units, so a folder comes right before what it holds. It is the order of a depth-first walk
 * with each folder's names sorted, which lets the walk of a folder and a listing (or two
 * listings) be merged in one pass. Returns <0, 0 or >0.
 */
export function compareStorePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // '/' ends a segment: the shorter segment sorts first, whatever character follows in the other.
    if (x === 47) return -1;
    if (y === 47) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/** The first line of a streamed listing. */
export const listingHeaderSchema = z.discriminatedUnion('store', [
  z.strictObject({ format: z.literal(LISTING_FORMAT), cutAt: epochMs, store: z.literal('localfs'), location: z.string() }),
  z.strictObject({ format: z.literal(LISTING_FORMAT), cutAt: epochMs, store: z.literal('s3'), bucket: z.string(), endpoint: z.string().optional() }),
]);

/** The last line: what the lines before it hold, checked by every reader. */
const endSchema = z.strictObject({ files: z.int().nonnegative(), dirs: z.int().nonnegative(), bytes: z.int().nonnegative(), summary: z.string() });

/** The schema of each kind of line after the header, by its one key. */
const recordSchemas = {
  dir: z.strictObject({ dir: listedDirSchema }),
  file: z.strictObject({ file: listedFileSchema }),
  object: z.strictObject({ object: listedObjectSchema }),
  changed: z.strictObject({ changed: z.looseObject({ path: z.string() }) }),
  missing: z.strictObject({ missing: z.string() }),
  unstorable: z.strictObject({ unstorable: z.strictObject({ path: z.string(), reason: z.string() }) }),
  end: z.strictObject({ end: endSchema }),
};

/** Any line after the header. */
export const listingRecordSchema = z.union(Object.values(recordSchemas) as unknown as [typeof recordSchemas.dir, typeof recordSchemas.file, typeof recordSchemas.object, typeof recordSchemas.changed, typeof recordSchemas.missing, typeof recordSchemas.unstorable, typeof recordSchemas.end]);

/** Parses one line's value by its key, so a problem names the field of the kind the line says it is. */
function parseRecord(value: unknown, path: string, n: number): z.output<typeof listingRecordSchema> {
  const key = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value)[0] : undefined;
  const schema = key !== undefined && Object.hasOwn(recordSchemas, key) ? recordSchemas[key as keyof typeof recordSchemas] : null;
  if (!schema) throw new ValidationError(`${path} line ${n} is not a valid files listing record: expected one of ${Object.keys(recordSchemas).join(', ')}`);
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`${path} line ${n} is not a valid files listing record: ${firstIssue(r.error)}`);
  return r.data as z.output<typeof listingRecordSchema>;
}

export type ListingHeader = z.output<typeof listingHeaderSchema>;
export type ListingEnd = z.output<typeof endSchema>;
/** One record of a listing after its header (the `end` line is checked by the reader, not handed out). */
export type ListingRecord = Exclude<z.output<typeof listingRecordSchema>, { end: unknown }>;

/** Longest line of a streamed listing; one entry takes a few hundred bytes. */
const MAX_LINE = 1 << 20;
/** Longest listing of the former format, which is one line. */
const MAX_LEGACY = 512 << 20;

/** An opened listing: its header, then its records, once. */
export interface ListingReader {
  header: ListingHeader;
  /**
   * The records in file order. Throws ValidationError, at the line concerned or at the end,
   * for a line that is not a valid record, entries out of store order, an entry naming the
   * listing's own set as the set storing it, a missing or wrong `end` line, or bytes that do not
   * match `ref` (size and sha256): whatever was handed out before came from a damaged listing.
   */
  records: AsyncIterable<ListingRecord>;
  /** Releases the listing when its records are not read to their end. */
  close(): void;
}

/**
 * Opens the listing `ref` names in set `thisSet`; `open` gives its bytes (destination.get, or a
 * local copy). Header and lines are validated as they are read; see ListingReader.records.
 */
export async function openListing(open: () => Promise<Readable>, ref: FileRef, thisSet: string): Promise<ListingReader> {
  const source = await open();
  const hash = createHash('sha256');
  let size = 0;
  const lines = splitLines(source, (chunk) => {
    hash.update(chunk);
    size += chunk.length;
  });
  const damaged = (why: string) => new ValidationError(`${ref.path}: ${why}: the files listing is damaged, and so is the backup set`);
  const checkBytes = () => {
    const got = hash.digest('hex');
    if (size !== ref.size || got !== ref.sha256) {
      throw new ValidationError(`${ref.path} does not match its record (${size} bytes, sha256 ${got}; expected ${ref.size}, ${ref.sha256}): the backup set is damaged`);
    }
  };
  const first = await lines.next();
  if (first.done) {
    checkBytes();
    throw damaged('it is empty');
  }
  const value = parseLine(first.value, ref.path, 1);
  if ((value as { format?: unknown } | null)?.format === 'tandem.files-listing/v2') {
    // The former format is one document: read to its end and check it whole before handing anything out.
    if (!(await lines.next()).done) throw damaged('text after the listing document');
    checkBytes();
    return legacyListing(value, ref.path, thisSet);
  }
  const h = listingHeaderSchema.safeParse(value);
  if (!h.success) {
    source.destroy();
    throw new ValidationError(`${ref.path} line 1 is not a files listing header: ${firstIssue(h.error)}`);
  }
  const header = h.data;
  async function* records(): AsyncGenerator<ListingRecord> {
    let n = 1;
    let last: string | null = null;
    const seen = { files: 0, dirs: 0, bytes: 0 };
    let end: ListingEnd | null = null;
    try {
      for await (const line of { [Symbol.asyncIterator]: () => lines }) {
        n++;
        if (end) throw damaged(`line ${n} follows the end line`);
        const rec = parseRecord(parseLine(line, ref.path, n), ref.path, n);
        if ('end' in rec) {
          end = rec.end;
          continue;
        }
        const entry = 'file' in rec ? rec.file : 'object' in rec ? rec.object : null;
        if (entry) {
          const name = 'path' in entry ? entry.path : entry.key;
          if (('file' in rec) !== (header.store === 'localfs')) throw damaged(`line ${n} lists ${'file' in rec ? 'a file' : 'an object'} in a ${header.store} store`);
          if (last !== null && compareStorePaths(last, name) >= 0) throw damaged(`line ${n}: ${name} is out of order or listed twice`);
          if (entry.set === thisSet) throw damaged(`line ${n}: ${name} names this set (${thisSet}) as the set storing it, which tandem never writes`);
          last = name;
          seen.files++;
          seen.bytes += entry.size;
        } else if ('dir' in rec) seen.dirs++;
        yield rec;
      }
    } finally {
      source.destroy();
    }
    checkBytes();
    if (!end) throw damaged('it has no end line (cut short)');
    if (end.files !== seen.files || end.dirs !== seen.dirs || end.bytes !== seen.bytes) {
      throw damaged(`its end line says ${end.files} files, ${end.dirs} folders, ${end.bytes} bytes; the lines hold ${seen.files}, ${seen.dirs}, ${seen.bytes}`);
    }
  }
  return { header, records: records(), close: () => source.destroy() };
}

/** A listing of the former format as the records of the new one, in store order. */
function legacyListing(value: unknown, path: string, thisSet: string): ListingReader {
  const r = filesListingSchema.safeParse(value);
  if (!r.success) throw new ValidationError(`${path} is not a valid files listing: ${firstIssue(r.error)}`);
  const l = r.data;
  const header: ListingHeader = l.store === 'localfs'
    ? { format: LISTING_FORMAT, cutAt: l.cutAt, store: 'localfs', location: l.location }
    : { format: LISTING_FORMAT, cutAt: l.cutAt, store: 's3', bucket: l.bucket, ...(l.endpoint !== undefined ? { endpoint: l.endpoint } : {}) };
  const byPath = <T>(name: (t: T) => string) => (a: T, b: T) => compareStorePaths(name(a), name(b));
  const entries: ListingRecord[] = l.store === 'localfs'
    ? [...l.dirs.map((dir) => ({ path: dir.path, rec: { dir } })), ...l.files.map((file) => ({ path: file.path, rec: { file } }))].sort(byPath((x) => x.path)).map((x) => x.rec)
    : [...l.objects].sort(byPath((o) => o.key)).map((object) => ({ object }));
  const self = (l.store === 'localfs' ? l.files : l.objects).find((e) => e.set === thisSet);
  if (self) throw new ValidationError(`${path}: ${'path' in self ? self.path : self.key} names this set (${thisSet}) as the set storing it, which tandem never writes: the listing was altered, the backup set is damaged`);
  const rest: ListingRecord[] = [...l.changed.map((changed) => ({ changed })), ...l.missing.map((missing) => ({ missing })), ...l.unstorable.map((unstorable) => ({ unstorable }))];
  async function* records(): AsyncGenerator<ListingRecord> {
    // Changed records first: a reader of the new format meets them before the file they concern.
    yield* rest;
    yield* entries;
  }
  return { header, records: records(), close: () => undefined };
}

function parseLine(line: string, path: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ValidationError(`${path} line ${n} is not valid JSON: the files listing is damaged, and so is the backup set`);
  }
}

/** The lines of a stream ('\n'-separated, a last line without one included); refuses a line longer than MAX_LINE (the first: MAX_LEGACY). */
function splitLines(source: Readable, onChunk: (chunk: Buffer) => void): AsyncIterator<string> {
  async function* gen(): AsyncGenerator<string> {
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let first = true;
    for await (const chunk of source) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      onChunk(buf);
      const parts = (rest + decoder.write(buf)).split('\n');
      rest = parts.pop()!;
      for (const p of parts) {
        first = false;
        yield p;
      }
      if (rest.length > (first ? MAX_LEGACY : MAX_LINE)) throw new ValidationError(`a line of the files listing is longer than ${first ? MAX_LEGACY : MAX_LINE} characters: the listing is damaged`);
    }
    rest += decoder.end();
    if (rest) yield rest;
  }
  return gen();
}

/** The entries of a folder store's listing. */
export type FolderRecord = { dir: ListedDir } | { file: ListedFile };
/** Only the dir and file records, in order. */
export async function* folderEntries(records: AsyncIterable<ListingRecord>): AsyncGenerator<FolderRecord> {
  for await (const r of records) if ('dir' in r || 'file' in r) yield r;
}

/** Only the file records, in order. */
export async function* listedFiles(records: AsyncIterable<ListingRecord>): AsyncGenerator<ListedFile> {
  for await (const r of records) if ('file' in r) yield r.file;
}

/** Only the object records, in order. */
export async function* listedObjects(records: AsyncIterable<ListingRecord>): AsyncGenerator<ListedObject> {
  for await (const r of records) if ('object' in r) yield r.object;
}
