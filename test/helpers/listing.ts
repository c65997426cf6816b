/** Files listings in tests: read one from disk whole (small test stores), or hand one to the restore code. */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ListedDir, ListedFile, ListedObject } from '../../shared/parts/files';
import { openListing, type ListingHeader, type ListingRecord } from '../../shared/parts/files-listing';
import { sha256Of } from '../../shared/parts/io';

/** A listing's records gathered by kind. */
export interface ListingContents {
  header: ListingHeader;
  files: ListedFile[];
  dirs: ListedDir[];
  objects: ListedObject[];
  changed: { path: string }[];
  missing: string[];
  unstorable: { path: string; reason: string }[];
}

/** Reads and checks (every line, the end line) a listing file of either format, for a set `thisSet`. */
export async function readListingFile(path: string, thisSet = 'tandem-test-none'): Promise<ListingContents> {
  const body = readFileSync(path);
  const reader = await openListing(async () => Readable.from([body]), { path: 'listing', size: body.length, sha256: sha256Of(body) }, thisSet);
  const out: ListingContents = { header: reader.header, files: [], dirs: [], objects: [], changed: [], missing: [], unstorable: [] };
  for await (const r of reader.records) gather(out, r);
  return out;
}

function gather(out: ListingContents, r: ListingRecord): void {
  if ('file' in r) out.files.push(r.file);
  else if ('dir' in r) out.dirs.push(r.dir);
  else if ('object' in r) out.objects.push(r.object);
  else if ('changed' in r) out.changed.push(r.changed);
  else if ('missing' in r) out.missing.push(r.missing);
  else out.unstorable.push(r.unstorable);
}

/** A listing object (either format's document, or the text of a listing) as the restore code reads it from workDir. */
export function localListingOf(listing: unknown, thisSet = 'tandem-test-none') {
  const body = Buffer.from(typeof listing === 'string' ? listing : JSON.stringify(listing));
  return () => openListing(async () => Readable.from([body]), { path: 'listing', size: body.length, sha256: sha256Of(body) }, thisSet);
}
