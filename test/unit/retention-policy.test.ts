/** The retention policy (restic's rules over synthetic dates), what a kept set needs, and the removal plan of a pruned folder. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyPolicy, bucketOf, type RetentionPolicy } from '../../coordinator/retention/policy';
import { incompleteVerdict, removals } from '../../coordinator/retention/plan';
import { retentionPolicy } from '../../coordinator/cli/retention-args';
import { UsageError } from '../../coordinator/cli/common';
import { needsOf } from '../../coordinator/sets/needs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDestination, parseDestinationConfig } from '../../shared/destination';
import { parseManifest } from '../../shared/manifest';
import { writeReferenced } from '../../shared/parts/io';
import { SET_ID, validListing, validManifest } from '../helpers/backup-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const DAY = 86_400_000;
/** One set a day at 02:30 UTC for `days` days ending 2026-11-22 (a Sunday), newest last. */
function daily(days: number, end = Date.UTC(2026, 10, 22, 2, 30)) {
  return Array.from({ length: days }, (_, i) => {
    const at = new Date(end - (days - 1 - i) * DAY);
    return { id: `set-${at.toISOString().slice(0, 10)}`, completedAt: at.toISOString() };
  });
}
const keptIds = (sets: ReturnType<typeof daily>, p: RetentionPolicy) => applyPolicy(sets, p).filter((d) => d.keep).map((d) => d.id);

test('keep-last keeps the N newest', () => {
  assert.equal(keptIds(daily(10), { keep_last: 3 }), ['set-2026-11-22', 'set-2026-11-21', 'set-2026-11-20']);
});

test('keep-daily keeps the newest set of each of the last N days that have one', () => {
  const sets = [...daily(5), { id: 'set-late', completedAt: '2026-11-22T23:00:00.000Z' }, { id: 'set-early', completedAt: '2026-11-21T00:10:00.000Z' }];
  // Two sets on the 21st and the 22nd: the newest of each day counts; days without a set are skipped.
  const gap = sets.filter((s) => s.id !== 'set-2026-11-20');
  assert.equal(keptIds(gap, { keep_daily: 3 }), ['set-late', 'set-2026-11-21', 'set-2026-11-19']);
});

test('keep-weekly and keep-monthly use ISO weeks and months in UTC', () => {
  assert.is(bucketOf('weekly', Date.UTC(2026, 10, 22, 23)), '2026-W47', 'Sunday ends the ISO week');
  assert.is(bucketOf('weekly', Date.UTC(2026, 10, 23)), '2026-W48', 'Monday starts the next');
  assert.is(bucketOf('weekly', Date.UTC(2021, 0, 3)), '2020-W53', 'early January can belong to the last year');
  assert.is(bucketOf('weekly', Date.UTC(2024, 11, 30)), '2025-W01', 'late December can belong to the next year');
  assert.is(bucketOf('monthly', Date.UTC(2026, 0, 31, 23, 59)), '2026-01');
  assert.is(bucketOf('daily', Date.UTC(2026, 0, 31, 23, 59)), '2026-01-31');
  const sets = daily(70);
  // Sundays are the newest set of each week: 22, 15, 8 November.
  assert.equal(keptIds(sets, { keep_weekly: 3 }), ['set-2026-11-22', 'set-2026-11-15', 'set-2026-11-08']);
  assert.equal(keptIds(sets, { keep_monthly: 3 }), ['set-2026-11-22', 'set-2026-10-31', 'set-2026-09-30']);
});

test('rules add up; every set a rule keeps is kept once, with its reasons', () => {
  const sets = daily(400);
  const d = applyPolicy(sets, { keep_daily: 7, keep_weekly: 4, keep_monthly: 12 });
  const kept = d.filter((x) => x.keep);
  // 7 days (16..22 Nov); the Sundays 15, 8 and 1 Nov (22 is a day already); the ends of Oct 2026 back to Dec 2025.
  assert.is(kept.length, 7 + 3 + 11);
  assert.equal(d[0].reasons, ['newest', 'daily', 'weekly', 'monthly']);
  assert.equal(d.find((x) => x.id === 'set-2026-11-08')!.reasons, ['weekly']);
  assert.equal(d.find((x) => x.id === 'set-2025-12-31')!.reasons, ['monthly']);
  assert.not.ok(d.find((x) => x.id === 'set-2025-11-30')!.keep, 'the 13th month back is not kept');
});

test('the newest set is always kept, whatever the rules say', () => {
  const d = applyPolicy(daily(5), { keep_monthly: 0 });
  assert.equal(d.filter((x) => x.keep).map((x) => [x.id, x.reasons]), [['set-2026-11-22', ['newest']]]);
  assert.equal(applyPolicy([], { keep_last: 3 }), []);
});

test('removals: only what no kept set needs goes, whole folders where possible, deepest first', () => {
  const files = ['s1/n1/part.json', 's1/n1/cassandra/thehive/a.tbz', 's1/n1/cassandra/thehive/b.tbz', 's1/n1/cassandra/contents.json', 's1/n2/part.json', 's1/n2/cassandra/thehive/a.tbz', 's1/top.json'];
  const r = removals('s1', files, new Set(['s1/n1/cassandra/thehive/a.tbz', 'other/n1/x']));
  assert.equal(r.kept, ['s1/n1/cassandra/thehive/a.tbz']);
  assert.not.ok(r.whole);
  assert.equal(r.remove, ['s1/n1/cassandra/thehive/b.tbz', 's1/n1/cassandra/contents.json', 's1/n1/part.json', 's1/n2', 's1/top.json']);
  assert.equal(removals('s1', files, new Set(['s2/n1/part.json'])), { remove: [], kept: [], whole: true });
});

test('an incomplete set goes only when old by every measure and not open in the journal', () => {
  const now = Date.UTC(2026, 10, 22);
  const grace = 7 * 3_600_000;
  const v = (id: string, newestChangeMs: number | null, journalOpen = false) => incompleteVerdict({ id, journalOpen, newestChangeMs, nowMs: now, graceMs: grace });
  assert.ok(v('tandem-20261120t023000z-0a1b2c', now - 2 * DAY).remove);
  assert.not.ok(v('tandem-20261120t023000z-0a1b2c', now - 2 * DAY, true).remove, 'an open run: recover decides');
  assert.not.ok(v('tandem-20261120t023000z-0a1b2c', now - 60_000).remove, 'written a minute ago');
  assert.not.ok(v('tandem-20261121t230000z-0a1b2c', now - 2 * DAY).remove, 'its id is an hour old');
  assert.ok(v('my-set', now - 2 * DAY).remove, 'no generated id: the file times decide');
  assert.match(v('my-set', null).reason, /age is unknown/);
  assert.not.ok(v('my-set', null).remove);
});

test('keep options: bad values, conflicts, all zero and none at all are usage errors; flags replace the block', () => {
  const none = { retention: undefined };
  const block = { retention: { keep_daily: 7, keep_weekly: 4 } };
  const usage = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: Error) => e instanceof UsageError && message.test(e.message));
  usage(() => retentionPolicy({}, none, 'fleet.yaml'), /nothing says what to keep: give --keep-last, --keep-daily, --keep-weekly or --keep-monthly, or a retention block in fleet.yaml/);
  usage(() => retentionPolicy({ 'keep-last': ['-1'] }, none, 'f'), /--keep-last "-1": must be a whole number/);
  usage(() => retentionPolicy({ 'keep-last': ['1.5'] }, none, 'f'), /must be a whole number/);
  usage(() => retentionPolicy({ 'keep-daily': ['3', '4'] }, none, 'f'), /given 2 times with different values \(3, 4\)/);
  usage(() => retentionPolicy({ 'keep-daily': ['0'], 'keep-last': ['0'] }, block, 'f'), /every keep count is 0/);
  assert.equal(retentionPolicy({ 'keep-daily': ['3', '3'] }, none, 'f'), { keep_daily: 3 });
  assert.equal(retentionPolicy({}, block, 'f'), block.retention);
  assert.equal(retentionPolicy({ 'keep-last': ['2'] }, block, 'f'), { keep_last: 2 });
});

test('a set needs its files, its references, the attachments its listings name wherever stored, and its snapshot', async () => {
  const root = scratchDirSync('needs');
  const dest = openDestination(parseDestinationConfig({ type: 'local', path: root }));
  const older = 'tandem-20261101t023000z-0a0b0c';
  const listing = validListing();
  listing.files.push({ ...listing.files[0], path: 'ab/kept-earlier', set: older });
  const m = validManifest();
  m.nodes[0].parts.files.listing = await writeReferenced(dest, `${SET_ID}/node1/files/listing.json`, JSON.stringify(listing));
  m.references.push({ path: `${older}/node1/cassandra/thehive/edgestore.tbz`, size: 5, sha256: 'd'.repeat(64), node: 'node1', role: 'cassandra', set: older });
  const needs = await needsOf(dest, parseManifest(JSON.stringify(m), SET_ID));
  for (const p of [
    `${SET_ID}/node1/cassandra/thehive/edgestore.tar.bz2`,
    `${SET_ID}/node1/part.json`,
    `${SET_ID}/node1/files/listing.json`,
    `${SET_ID}/node1/files/data/ab/cdef`,
    `${older}/node1/files/data/ab/kept-earlier`,
    `${older}/node1/cassandra/thehive/edgestore.tbz`,
  ]) assert.ok(needs.paths.has(p), p);
  assert.equal(needs.esSnapshots, [{ node: 'node1', repository: 'tandem', snapshot: SET_ID }]);
  // A listing that does not match its record: what it names is unknown, so the prune must stop.
  writeFileSync(join(root, SET_ID, 'node1', 'files', 'listing.json'), '{}');
  await needsOf(dest, parseManifest(JSON.stringify(m), SET_ID)).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /cannot tell which attachments backup set .* needs: .*nothing was deleted/));
  removeScratch(root);
});

test.run();
