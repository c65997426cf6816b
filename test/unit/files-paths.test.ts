/**
 * Where a listed attachment lives (shared/parts/files-paths.ts): in this set, or in the earlier
 * set its entry names; a listing naming its own set, or a set that is no backup id, is refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalDestination } from '../../shared/destination';
import { attachmentPath, listingAttachments } from '../../shared/parts/files-paths';
import { writeReferenced } from '../../shared/parts/io';
import { rejects } from '../helpers/assert';
import { SET_ID, validListing } from '../helpers/backup-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const tmp = scratchDirSync('files-paths');
test.after(() => removeScratch(tmp));
const EARLIER = 'tandem-20261121t101500z-99aa00';
const hex = (c: string) => c.repeat(64);

test('an attachment is read from this set, or from the earlier set its entry names', () => {
  const file = { path: 'ab/cd/x', size: 1, mtimeMs: 0, mode: 0o640, uid: 0, gid: 0, sha256: hex('a') };
  assert.is(attachmentPath(SET_ID, 'node1', 'localfs', file), `${SET_ID}/node1/files/data/ab/cd/x`);
  assert.is(attachmentPath(SET_ID, 'node1', 'localfs', { ...file, set: EARLIER }), `${EARLIER}/node1/files/data/ab/cd/x`);
  assert.is(attachmentPath(SET_ID, 'node1', 's3', { key: 'k/1', size: 1, sha256: hex('b'), set: EARLIER }), `${EARLIER}/node1/files/s3/k/1`);
  assert.throws(() => attachmentPath(SET_ID, 'node1', 'localfs', { ...file, set: SET_ID }), /names this set itself/);
});

/** Every attachment of the listing at `ref`, gathered. */
const attachments = async (dest: LocalDestination, ref: Parameters<typeof listingAttachments>[1]) => {
  const out = [];
  for await (const a of listingAttachments(dest, ref, SET_ID, 'node1')) out.push(a);
  return out;
};

test('listingAttachments gives every path a listing needs, with the set storing each (former format)', async () => {
  const dest = new LocalDestination({ type: 'local', path: tmp });
  const l = validListing();
  l.files.push({ ...l.files[0], path: 'ab/old', set: EARLIER });
  const ref = await writeReferenced(dest, `${SET_ID}/node1/files/listing.json`, JSON.stringify(l));
  assert.equal((await attachments(dest, ref)).map((p) => [p.path, p.set, p.name]), [
    [`${SET_ID}/node1/files/data/ab/cdef`, SET_ID, 'ab/cdef'],
    [`${EARLIER}/node1/files/data/ab/old`, EARLIER, 'ab/old'],
  ]);
});

test('a listing whose entry names its own set, or no backup id, is refused on read', async () => {
  const dest = new LocalDestination({ type: 'local', path: tmp });
  const l = validListing();
  l.files.push({ ...l.files[0], path: 'ab/self', set: SET_ID });
  const self = await writeReferenced(dest, `${SET_ID}/node1/files/listing.json`, JSON.stringify(l));
  await rejects(() => attachments(dest, self), /listing\.json: ab\/self names this set .* as the set storing it/);
  l.files[1].set = '../../etc';
  const bad = await writeReferenced(dest, `${SET_ID}/node1/files/listing.json`, JSON.stringify(l));
  await rejects(() => attachments(dest, bad), /files\.1\.set/);
  l.files[1].set = EARLIER;
  const good = await writeReferenced(dest, `${SET_ID}/node1/files/listing.json`, JSON.stringify(l));
  assert.is((await attachments(dest, good)).length, 2);
});

test.run();
