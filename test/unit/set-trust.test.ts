/**
 * The destination is storage others write: only sets whose manifest is signed by a trusted key,
 * about their own folder, with sound fields, count. Each reason a folder is untrusted; a planted
 * pruned.json or planted future manifests delete nothing; an untrusted set is never a parent nor
 * the latest. Local destinations in temporary folders, the real prune.
 */
import { cpSync, mkdirSync, readFileSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { readManifestAndDigest } from '../../coordinator/sets/read-manifest';
import { manifestSignaturePath, prunedMarkerPath, prunedSignaturePath } from '../../shared/destination/layout';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { latestComplete, listBackupSets, scanSets } from '../../coordinator/sets/catalog';
import { chooseParent } from '../../coordinator/backup/parent';
import { parentSet } from '../../agent/backup/parent';
import { fieldProblem, isIsoInstant, type SetTrust } from '../../coordinator/sets/trust';
import { writeMarker } from '../../coordinator/sets/marker';
import { markedEsSnapshots, prune, type PruneOptions } from '../../coordinator/retention/prune';
import { openDestination, type DestinationConfig } from '../../shared/destination';
import { parseManifest } from '../../shared/manifest';
import { generateSigningKeyPair, MANIFEST_MAX_BYTES, parseSigningKey, signatureFor } from '../../shared/signing';
import { rejects } from '../helpers/assert';
import { writeRehearsalSet } from '../helpers/rehearsal-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { trustOf } from '../helpers/signing';

const root = scratchDirSync('set-trust');
test.after(() => removeScratch(root));

const key = parseSigningKey(generateSigningKeyPair().privatePem, 'test');
const stranger = parseSigningKey(generateSigningKeyPair().privatePem, 'stranger');
const trust: SetTrust = trustOf(key);
let n = 0;
/** A fresh local destination folder. */
function destination(): { dir: string; config: DestinationConfig } {
  const dir = join(root, `dest-${++n}`);
  mkdirSync(dir, { recursive: true });
  return { dir, config: { type: 'local', path: dir } };
}
const HOUR = 3_600_000;
const ago = (h: number) => new Date(Date.now() - h * HOUR).toISOString();

/** Three trusted sets an hour apart, a is the oldest. */
function threeSets(dir: string): string[] {
  const ids = ['set-aaa', 'set-bbb', 'set-ccc'];
  ids.forEach((id, i) => writeRehearsalSet(dir, id, { key, completedAt: ago(3 - i) }));
  return ids;
}

const statuses = async (config: DestinationConfig) => (await listBackupSets(openDestination(config), trust)).map((e) => `${e.id}:${e.status}${e.reason ? `:${e.reason}` : ''}`);

function pruneOptions(o: Partial<PruneOptions>): PruneOptions {
  return { target: { kind: 'prune', policy: { keep_last: 1 } }, dryRun: false, openRuns: new Set(), incompleteGraceMs: HOUR, agents: [], say: () => undefined, trust, signingKey: key, ...o };
}

test('a signed set is complete; each way of being untrusted is named', async () => {
  const { dir, config } = destination();
  writeRehearsalSet(dir, 'set-good', { key });
  writeRehearsalSet(dir, 'set-unsigned', { key: null });
  writeRehearsalSet(dir, 'set-badsigfile', { key });
  writeFileSync(join(dir, manifestSignaturePath('set-badsigfile')), '{"format":"tandem.signature/v1"}');
  writeRehearsalSet(dir, 'set-stranger', { key: stranger });
  writeRehearsalSet(dir, 'set-altered', { key });
  const altered = join(dir, 'set-altered', 'manifest.json');
  writeFileSync(altered, readFileSync(altered, 'utf8').replace('"tandemVersion": "test"', '"tandemVersion": "tset"'));
  // A trusted set's manifest and signature copied into another folder.
  writeRehearsalSet(dir, 'set-copied', { key });
  mkdirSync(join(dir, 'set-moved'));
  for (const f of ['manifest.json', 'manifest.sig']) cpSync(join(dir, 'set-copied', f), join(dir, 'set-moved', f));
  writeRehearsalSet(dir, 'set-future', { key, completedAt: '2099-01-01T00:00:00.000Z' });
  writeRehearsalSet(dir, 'set-nodate', { key, tamper: (m) => (m.completedAt = 'yesterday') });
  writeRehearsalSet(dir, 'set-nonodes', { key, tamper: (m) => Object.assign(m, { nodes: [], files: [] }) });
  writeRehearsalSet(dir, 'set-huge', { key: null });
  truncateSync(join(dir, 'set-huge', 'manifest.json'), MANIFEST_MAX_BYTES + 1);
  assert.equal(await statuses(config), [
    'set-altered:untrusted:bad-signature',
    'set-badsigfile:untrusted:invalid-signature-file',
    'set-copied:complete',
    'set-future:untrusted:invalid-field',
    'set-good:complete',
    'set-huge:untrusted:oversized',
    'set-moved:untrusted:folder-mismatch',
    'set-nodate:untrusted:invalid-field',
    'set-nonodes:untrusted:invalid-field',
    'set-stranger:untrusted:unknown-key',
    'set-unsigned:untrusted:unsigned',
  ]);
  const listed = await listBackupSets(openDestination(config), trust);
  assert.match(listed.find((e) => e.id === 'set-future')!.problem!, /completedAt 2099-01-01T00:00:00.000Z is in the future/);
  assert.match(listed.find((e) => e.id === 'set-moved')!.problem!, /describes backup set "set-copied", not its folder set-moved/);
  assert.match(listed.find((e) => e.id === 'set-nonodes')!.problem!, /nodes is empty/);
  // The key that signed it, once trusted, makes it a set: rotation keeps the old public key in signing.trusted.
  assert.equal((await listBackupSets(openDestination(config), trustOf(key, stranger))).find((e) => e.id === 'set-stranger')!.status, 'complete');
});

test('restore, verify, show and drill read only trusted manifests: an untrusted one is refused by name, an unsigned one pointed at adopt', async () => {
  const { dir } = destination();
  writeRehearsalSet(dir, 'set-old', { key: null });
  writeRehearsalSet(dir, 'set-good', { key });
  const dest = openDestination({ type: 'local', path: dir });
  assert.is((await readManifestAndDigest(dest, 'set-good', trust)).manifest.id, 'set-good');
  await rejects(() => readManifestAndDigest(dest, 'set-old', trust), /backup set set-old is untrusted \(unsigned: .*\); .*tandem adopt set-old/);
});

test('dates: only real ISO instants, none beyond the skew in the future, started before completed', () => {
  for (const ok of ['2026-12-07T09:00:00.000Z', '2026-12-07T09:00:00Z']) assert.ok(isIsoInstant(ok), ok);
  for (const bad of ['', 'yesterday', '2026-02-30T00:00:00.000Z', '2026-12-07 09:00:00Z', '2026-12-07T09:00:00+01:00', '+2026-12-07T09:00:00Z']) assert.not.ok(isIsoInstant(bad), bad);
  const dir = destination().dir;
  const m = parseManifest(writeRehearsalSet(dir, 'set-dates', { key }), 'set-dates');
  const now = Date.parse(m.completedAt);
  assert.is(fieldProblem(m, now), null);
  assert.is(fieldProblem(m, now - 60_000), null, 'a minute ahead is clock skew');
  assert.match(fieldProblem(m, now - 3_600_000)!, /in the future/);
  assert.match(fieldProblem({ ...m, startedAt: new Date(now + 1000).toISOString() }, now + 10_000)!, /startedAt .* is after completedAt/);
});

test('a pruned.json planted in the newest set is ignored: prune keeps the set, reports the marker, deletes nothing', async () => {
  const { dir, config } = destination();
  const ids = threeSets(dir);
  const newest = ids[2];
  writeFileSync(join(dir, prunedMarkerPath(newest)), JSON.stringify({ format: 'tandem.pruned/v1', id: 'x', prunedAt: '', esSnapshots: [] }));
  const listed = (await listBackupSets(openDestination(config), trust)).find((e) => e.id === newest)!;
  assert.is(listed.status, 'complete');
  assert.match(listed.ignoredMarker!, /pruned\.json ignored \(unsigned/);
  const report = await prune(openDestination(config), pruneOptions({ target: { kind: 'prune', policy: { keep_last: 10 } } }));
  assert.equal(report.removed, []);
  assert.equal(report.kept.map((k) => k.id), [...ids].reverse());
  assert.equal(report.ignoredMarkers.map((m) => m.id), [newest]);
  for (const id of ids) assert.ok(existsSync(join(dir, id, 'manifest.json')), id);
});

test("a signed marker copied into another set's folder is ignored (folder-mismatch)", async () => {
  const { dir, config } = destination();
  const ids = threeSets(dir);
  const dest = openDestination(config);
  // A real marker of a set once pruned, signed by the fleet's key, copied next to the newest manifest.
  mkdirSync(join(dir, 'set-zzz-pruned'));
  await writeMarker(dest, 'set-zzz-pruned', [], key);
  for (const f of [prunedMarkerPath, prunedSignaturePath]) cpSync(join(dir, f('set-zzz-pruned')), join(dir, f(ids[2])));
  const scanned = await scanSets(dest, trust);
  assert.equal(scanned.map((s) => `${s.id}:${s.status}`), ['set-aaa:complete', 'set-bbb:complete', 'set-ccc:complete', 'set-zzz-pruned:pruned']);
  assert.match(scanned[2].ignoredMarker!, /folder-mismatch: .*names backup set "set-zzz-pruned", not its folder set-ccc/);
  const report = await prune(dest, pruneOptions({ target: { kind: 'prune', policy: { keep_last: 3 } } }));
  assert.equal(report.removed.map((r) => `${r.id}:${r.result}`), ['set-zzz-pruned:removed'], 'the genuinely pruned folder is finished');
  for (const id of ids) assert.ok(existsSync(join(dir, id, 'manifest.json')), id);
});

test('planted manifests dated 2099 do not take over --keep-last: every real set stays, the planted ones are reported and left', async () => {
  const { dir, config } = destination();
  const ids = threeSets(dir);
  // Unsigned, signed by another key, and signed by a trusted key but dated in the future.
  writeRehearsalSet(dir, 'set-x1', { key: null, completedAt: '2099-01-01T00:00:00.000Z' });
  writeRehearsalSet(dir, 'set-x2', { key: stranger, completedAt: '2099-01-02T00:00:00.000Z' });
  writeRehearsalSet(dir, 'set-x3', { key, completedAt: '2099-01-03T00:00:00.000Z' });
  const report = await prune(openDestination(config), pruneOptions({ target: { kind: 'prune', policy: { keep_last: 3 } } }));
  assert.equal(report.kept.map((k) => k.id), [...ids].reverse());
  assert.equal(report.removed, []);
  assert.equal(report.untrusted.map((u) => `${u.id}:${u.reason}`), ['set-x1:unsigned', 'set-x2:unknown-key', 'set-x3:invalid-field']);
  for (const id of [...ids, 'set-x1', 'set-x2', 'set-x3']) assert.ok(existsSync(join(dir, id, 'manifest.json')), id);
  // keep-last 1 removes the two older real sets, never an untrusted one.
  const one = await prune(openDestination(config), pruneOptions({}));
  assert.equal(one.removed.map((r) => `${r.id}:${r.result}`), ['set-aaa:removed', 'set-bbb:removed']);
  for (const id of [ids[2], 'set-x1', 'set-x2', 'set-x3']) assert.ok(existsSync(join(dir, id, 'manifest.json')), id);
});

test('an untrusted set is never the parent nor the latest: the newest trusted one is', async () => {
  const { dir, config } = destination();
  const ids = threeSets(dir);
  writeRehearsalSet(dir, 'set-zzz', { key: null, completedAt: ago(0.1) });
  writeRehearsalSet(dir, 'set-zzy', { key: stranger, completedAt: ago(0.2) });
  const parent = await chooseParent(openDestination(config), ['n1'], trust);
  assert.is(parent?.backupId, ids[2]);
  assert.is(parent?.manifestSha256, (await readManifestAndDigest(openDestination(config), ids[2], trust)).sha256);
  assert.is(await latestComplete(openDestination(config), trust), ids[2]);
  // With no trusted set at all there is no parent (a full backup) and no latest.
  const other = destination();
  writeRehearsalSet(other.dir, 'set-zzz', { key: null });
  assert.is(await chooseParent(openDestination(other.config), ['n1'], trust), null);
  await rejects(() => latestComplete(openDestination(other.config), trust), /no complete \(signed\) backup set/);
});

test("a signed marker's Elasticsearch snapshots count only when they are its set's own", async () => {
  const { dir, config } = destination();
  writeRehearsalSet(dir, 'set-ccc', { key });
  const dest = openDestination(config);
  const own = { node: 'n1', repository: 'tandem', snapshot: 'tandem-set-ccc' };
  await writeMarker(dest, 'set-ccc', [own, { node: 'n1', repository: 'tandem', snapshot: 'tandem-other-set' }], key);
  // The manifest (rehearsal only) records no snapshot: none is deleted on the marker's word.
  assert.equal(await markedEsSnapshots(dest, 'set-ccc', trust), []);
  // Without a trusted manifest, only the set's own snapshot name.
  writeFileSync(join(dir, manifestSignaturePath('set-ccc')), signatureFor(stranger, 'manifest.json', readFileSync(join(dir, 'set-ccc', 'manifest.json'))));
  assert.equal(await markedEsSnapshots(dest, 'set-ccc', trust), [own]);
  // An unsigned marker names nothing.
  writeFileSync(join(dir, prunedSignaturePath('set-ccc')), '');
  assert.equal(await markedEsSnapshots(dest, 'set-ccc', trust), []);
});

test('a held pruned folder keeps its marker and signature; its manifest signature goes with the manifest', async () => {
  const { dir, config } = destination();
  const ids = threeSets(dir);
  // set-ccc needs set-aaa's file, as an incremental set needs its parent's archives.
  const m = JSON.parse(readFileSync(join(dir, 'set-ccc', 'manifest.json'), 'utf8'));
  const owner = JSON.parse(readFileSync(join(dir, 'set-aaa', 'manifest.json'), 'utf8'));
  m.references.push({ ...owner.files.find((f: { role: string }) => f.role === 'rehearsal'), set: 'set-aaa' });
  const body = JSON.stringify(m);
  writeFileSync(join(dir, 'set-ccc', 'manifest.json'), body);
  writeFileSync(join(dir, manifestSignaturePath('set-ccc')), signatureFor(key, 'manifest.json', body));
  const report = await prune(openDestination(config), pruneOptions({}));
  assert.equal(report.removed.map((r) => `${r.id}:${r.result}`), ['set-aaa:held', 'set-bbb:removed']);
  assert.equal(
    ['manifest.json', 'manifest.sig', 'pruned.json', 'pruned.sig', 'n1/rehearsal/part.txt', 'n1/part.json'].filter((f) => existsSync(join(dir, 'set-aaa', f))),
    ['pruned.json', 'pruned.sig', 'n1/rehearsal/part.txt'],
  );
  assert.equal(await statuses(config), ['set-aaa:pruned', `${ids[2]}:complete`]);
});

test("the agent builds only on the parent manifest the coordinator checked: another manifest's bytes, or an oversized one, are refused", async () => {
  const { dir, config } = destination();
  threeSets(dir);
  const chosen = (await chooseParent(openDestination(config), ['n1'], trust))!;
  const dest = openDestination(config);
  assert.is((await parentSet(chosen, dest, 'n1').load()).node?.node, 'n1');
  // Replaced after the coordinator checked it (signed again by the attacker's key or not at all): the digest differs.
  writeRehearsalSet(dir, chosen.backupId, { key: stranger, tamper: (m) => (m.tandemVersion = 'planted') });
  await rejects(() => parentSet(chosen, dest, 'n1').load(), /is not the manifest the coordinator chose as parent \(sha256 differs\)/);
  truncateSync(join(dir, chosen.backupId, 'manifest.json'), MANIFEST_MAX_BYTES + 1);
  await rejects(() => parentSet(chosen, dest, 'n1').load(), /more than the 16777216 a manifest\.json may hold: it was not read/);
});

test.run();
