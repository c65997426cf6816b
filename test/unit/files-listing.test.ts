/**
 * The streamed files listing (shared/parts/files-listing.ts): written line by line, read back
 * line by line with every line checked, in one order shared by the folder walk and the merges.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeByPath, walkFolder, walkPath } from '../../agent/roles/files/walk';
import { LocalDestination } from '../../shared/destination';
import type { FileRef } from '../../shared/parts';
import { compareStorePaths, LISTING_FORMAT, openListing, type ListingRecord } from '../../shared/parts/files-listing';
import { ListingWriter } from '../../shared/parts/files-listing-write';
import { sha256Of } from '../../shared/parts/io';
import { forEachBounded } from '../../shared/pool';
import { rejects } from '../helpers/assert';
import { SET_ID } from '../helpers/backup-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const tmp = scratchDirSync('files-listing');
test.after(() => removeScratch(tmp));
const EARLIER = 'tandem-20261121t101500z-99aa00';
const hex = (c: string) => c.repeat(64);
const file = (path: string, extra: Record<string, unknown> = {}) => ({ path, size: 3, mtimeMs: 1.5, mode: 0o640, uid: 1, gid: 1, ino: 7, sha256: hex('a'), ...extra });
const header = { format: LISTING_FORMAT as typeof LISTING_FORMAT, cutAt: 1, store: 'localfs' as const, location: '/opt/thp/thehive/files' };

/** The text of a listing from its lines, and the reference that matches it. */
function listingOf(lines: unknown[]): { body: Buffer; ref: FileRef } {
  const body = Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return { body, ref: { path: 'x/listing.ndjson', size: body.length, sha256: sha256Of(body) } };
}

/** Every record of a listing's text, read as a destination's would be. */
async function read(body: Buffer, ref?: FileRef, thisSet = SET_ID): Promise<ListingRecord[]> {
  // Two chunks, the first ending inside a line: lines are split across chunks.
  const r = await openListing(async () => Readable.from([body.subarray(0, 7), body.subarray(7)]), ref ?? { path: 'x/listing.ndjson', size: body.length, sha256: sha256Of(body) }, thisSet);
  const out: ListingRecord[] = [];
  for await (const rec of r.records) out.push(rec);
  return out;
}

test('store order: a folder comes right before what it holds, as a depth-first walk with sorted names gives', () => {
  const paths = ['a-c', 'a/b', 'a', 'a.d/x', 'a/b/c', 'b', 'a0'];
  assert.equal([...paths].sort(compareStorePaths), ['a', 'a/b', 'a/b/c', 'a-c', 'a.d/x', 'a0', 'b']);
  assert.ok(compareStorePaths('ab', 'ab') === 0);
});

test('a listing written line by line reads back the same records, its reference matching the file', async () => {
  const dest = new LocalDestination({ type: 'local', path: tmp });
  const w = new ListingWriter(dest, `${SET_ID}/node1/files/listing.ndjson`, header);
  const records: ListingRecord[] = [
    { dir: { path: '', mode: 0o750, uid: 1, gid: 1 } },
    { dir: { path: 'ab', mode: 0o750, uid: 1, gid: 1 } },
    { changed: { path: 'ab/c1', when: 'during the copy' } },
    { file: file('ab/c1') },
    { file: file('ab/c2', { set: EARLIER }) },
    { missing: 'ab/gone' },
    { unstorable: { path: 'ab/link', reason: 'symbolic link' } },
  ];
  for (const r of records) await w.write(r);
  const ref = await w.close({ files: 2, dirs: 2, bytes: 6, summary: 'copied 1 file' });
  const body = readFileSync(join(tmp, ref.path));
  assert.equal([ref.size, ref.sha256], [body.length, sha256Of(body)]);
  assert.is(body.toString().split('\n').length, records.length + 3, 'header, records, end line, final newline');
  assert.equal(await read(body, ref), records);
});

test('a damaged line is refused with its line number and field; an escaping path never gets out', async () => {
  const cases: [unknown[], RegExp][] = [
    [[header, { file: file('../etc/passwd') }, { end: { files: 1, dirs: 0, bytes: 3, summary: '' } }], /line 2 is not a valid files listing record: .*not allowed/],
    [[header, { file: file('/etc/passwd') }], /line 2 .*absolute/],
    [[header, { file: file('ab/x') }, { file: file('ab/a') }], /line 3: ab\/a is out of order or listed twice/],
    [[header, { file: file('ab/x') }, { file: file('ab/x') }], /line 3: ab\/x is out of order or listed twice/],
    [[header, { file: file('ab/x', { set: SET_ID }) }], /names this set .* as the set storing it/],
    [[header, { file: file('ab/x', { set: '../../etc' }) }], /line 2 .*file\.set/],
    [[header, { object: { key: 'k', size: 1, sha256: hex('b') } }], /lists an object in a localfs store/],
    [[header, { file: file('ab/x') }], /no end line \(cut short\)/],
    [[header, { file: file('ab/x') }, { end: { files: 2, dirs: 0, bytes: 3, summary: '' } }], /end line says 2 files/],
    [[header, { end: { files: 0, dirs: 0, bytes: 0, summary: '' } }, { missing: 'x' }], /line 3 follows the end line/],
    [[{ ...header, format: 'tandem.files-listing/v9' }], /line 1 is not a files listing header/],
  ];
  for (const [lines, expected] of cases) await rejects(() => read(listingOf(lines).body), expected);
  await rejects(() => read(Buffer.from('{"format"\n')), /line 1 is not valid JSON/);
  await rejects(() => read(Buffer.from(JSON.stringify(header) + '\n' + 'x'.repeat(1.5 * 2 ** 20))), /longer than/);
});

test('bytes that do not match the reference are refused, even when every line is valid', async () => {
  const { body, ref } = listingOf([header, { file: file('ab/x') }, { end: { files: 1, dirs: 0, bytes: 3, summary: '' } }]);
  await rejects(() => read(body, { ...ref, sha256: hex('0') }), /does not match its record/);
  assert.is((await read(body, ref)).length, 1);
});

test('a listing of the former format is read as the same records, in store order', async () => {
  const v2 = {
    format: 'tandem.files-listing/v2', cutAt: 1, store: 'localfs', location: '/f',
    files: [file('a/b'), file('a-c')], dirs: [{ path: '', mode: 0o750, uid: 1, gid: 1 }, { path: 'a', mode: 0o750, uid: 1, gid: 1 }],
    changed: [], missing: ['gone'], unstorable: [], summary: '',
  };
  const recs = await read(Buffer.from(JSON.stringify(v2) + '\n'));
  assert.equal(recs.map((r) => ('file' in r ? r.file.path : 'dir' in r ? `dir:${r.dir.path}` : 'missing' in r ? `missing:${r.missing}` : '?')), ['missing:gone', 'dir:', 'dir:a', 'a/b', 'a-c']);
});

test('the folder walk hands out entries in store order, links not followed, and merges with a listing in one pass', async () => {
  const root = join(tmp, 'store');
  for (const d of ['a/b', 'a-c', 'z']) mkdirSync(join(root, d), { recursive: true });
  for (const f of ['a/b/1', 'a/2', 'a-c/3', 'a0']) writeFileSync(join(root, f), f);
  symlinkSync('/etc', join(root, 'z', 'link'));
  const seen: string[] = [];
  for await (const e of walkFolder(root)) seen.push(`${'dir' in e ? 'd' : 'file' in e ? 'f' : 's'}:${walkPath(e)}`);
  assert.equal(seen, ['d:', 'd:a', 'f:a/2', 'd:a/b', 'f:a/b/1', 'd:a-c', 'f:a-c/3', 'f:a0', 'd:z', 's:z/link']);
  async function* listed() {
    yield* ['a/2', 'a/b/1', 'a/b/9', 'a0'];
  }
  const pairs: string[] = [];
  for await (const [w, l] of mergeByPath(walkFolder(root), walkPath, listed(), (p) => p)) if (w && 'file' in w) pairs.push(`${w.file.path}${l ? '=' : '+'}`);
  assert.equal(pairs, ['a/2=', 'a/b/1=', 'a-c/3+', 'a0=']);
});

test('forEachBounded runs at most N at once over an async iterable and stops at the first error', async () => {
  let running = 0;
  let most = 0;
  async function* items() {
    for (let i = 0; i < 50; i++) yield i;
  }
  await forEachBounded(items(), 4, undefined, async () => {
    most = Math.max(most, ++running);
    await new Promise((r) => setImmediate(r));
    running--;
  });
  assert.is(most, 4);
  let started = 0;
  await rejects(() => forEachBounded(items(), 2, undefined, async (i) => {
    started++;
    if (i === 3) throw new Error('item 3 failed');
    await new Promise((r) => setImmediate(r));
  }), /item 3 failed/);
  assert.ok(started < 50, `${started} items started after the failure`);
});

test.run();
