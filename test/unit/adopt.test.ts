/**
 * `tandem adopt`: a set written before sets were signed is signed only after it verifies in full;
 * one that fails a check is refused, naming it, and stays untrusted. Rehearsal sets on a local
 * destination in a temporary folder (no role needs an agent to confirm anything).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adoptSet } from '../../coordinator/backup/adopt';
import { listBackupSets } from '../../coordinator/sets/catalog';
import { fleetConfigSchema, type FleetConfig } from '../../coordinator/config';
import { manifestSignaturePath, prunedMarkerPath, prunedSignaturePath } from '../../shared/destination/layout';
import { prune } from '../../coordinator/retention/prune';
import { signingOf } from '../../coordinator/signing';
import { openDestination } from '../../shared/destination';
import { generateSigningKeyPair, parseSigningKey } from '../../shared/signing';
import { rejects } from '../helpers/assert';
import { writeRehearsalSet } from '../helpers/rehearsal-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { signingKeyAt, writeSigningKeySync } from '../helpers/signing';

const root = scratchDirSync('adopt');
test.after(() => removeScratch(root));
const dest = join(root, 'dest');
mkdirSync(dest);
const keys = writeSigningKeySync(join(root, 'keys'));
const fleet: FleetConfig = fleetConfigSchema.parse({
  agents: [{ node: 'n1', address: '127.0.0.1:1', roles: ['rehearsal'] }],
  destination: { type: 'local', path: dest },
  signing: { key: keys.key },
  stateDir: join(root, 'state'),
});
const key = signingKeyAt(keys.key);
const trust = { keys: signingOf(fleet).trusted };
const quiet = () => undefined;
const statusOf = async (id: string) => {
  const e = (await listBackupSets(openDestination(fleet.destination), trust)).find((x) => x.id === id);
  return e ? `${e.status}${e.reason ? `:${e.reason}` : ''}` : 'absent';
};

test('an unsigned set that verifies is signed, and is a set again; adopting it twice writes nothing', async () => {
  writeRehearsalSet(dest, 'set-old', { key: null, completedAt: new Date(Date.now() - 86_400_000).toISOString() });
  assert.is(await statusOf('set-old'), 'untrusted:unsigned');
  const r = await adoptSet(fleet, openDestination(fleet.destination), 'set-old', [], quiet);
  assert.equal([r.outcome, r.file, r.keyId, r.files], ['adopted', 'manifest.json', key.keyId, 2]);
  assert.ok(existsSync(join(dest, manifestSignaturePath('set-old'))));
  assert.is(await statusOf('set-old'), 'complete');
  assert.is((await adoptSet(fleet, openDestination(fleet.destination), 'set-old', [], quiet)).outcome, 'signed');
});

test('a set whose file does not match its manifest is refused, naming the file, and stays unsigned', async () => {
  writeRehearsalSet(dest, 'set-damaged', { key: null });
  writeFileSync(join(dest, 'set-damaged', 'n1', 'rehearsal', 'part.txt'), 'planted bytes of the same length!!!!!!!!!!!!\n'.slice(0, readFileSync(join(dest, 'set-damaged', 'n1', 'rehearsal', 'part.txt')).length));
  await rejects(() => adoptSet(fleet, openDestination(fleet.destination), 'set-damaged', [], quiet), /backup set set-damaged is not adopted: verification found 1 problem\(s\): set-damaged\/n1\/rehearsal\/part\.txt: sha256 [0-9a-f]+, manifest says [0-9a-f]+ \(corrupt\)\. Nothing was signed/);
  assert.not.ok(existsSync(join(dest, manifestSignaturePath('set-damaged'))));
  assert.is(await statusOf('set-damaged'), 'untrusted:unsigned');
});

test('a manifest that would not be trusted signed is refused before any file is read: dates, folder, other keys', async () => {
  writeRehearsalSet(dest, 'set-future', { key: null, completedAt: '2099-01-01T00:00:00.000Z' });
  await rejects(() => adoptSet(fleet, openDestination(fleet.destination), 'set-future', [], quiet), /set-future is not adopted \(invalid-field\): .*completedAt 2099-01-01T00:00:00\.000Z is in the future/);
  writeRehearsalSet(dest, 'set-moved', { key: null, tamper: (m) => (m.id = 'set-other') });
  await rejects(() => adoptSet(fleet, openDestination(fleet.destination), 'set-moved', [], quiet), /set-moved is not adopted \(folder-mismatch\)/);
  const stranger = parseSigningKey(generateSigningKeyPair().privatePem, 'stranger');
  writeRehearsalSet(dest, 'set-stranger', { key: stranger });
  await rejects(() => adoptSet(fleet, openDestination(fleet.destination), 'set-stranger', [], quiet), /untrusted \(unknown-key: .*\); .*adopt signs only unsigned sets/);
  await rejects(() => adoptSet(fleet, openDestination(fleet.destination), 'set-none', [], quiet), /no backup set set-none/);
  for (const id of ['set-future', 'set-moved']) assert.not.ok(existsSync(join(dest, manifestSignaturePath(id))), id);
});

test('a folder pruned before signing: prune leaves it, delete of an unsigned set is refused, adopt signs its marker', async () => {
  // A pruned folder as an earlier tandem left it: the file a later set needs, and an unsigned marker.
  mkdirSync(join(dest, 'set-held', 'n1', 'rehearsal'), { recursive: true });
  writeFileSync(join(dest, 'set-held', 'n1', 'rehearsal', 'part.txt'), 'kept for a later set\n');
  writeFileSync(join(dest, prunedMarkerPath('set-held')), JSON.stringify({ format: 'tandem.pruned/v1', id: 'set-held', prunedAt: '2026-01-01T00:00:00.000Z', esSnapshots: [] }) + '\n');
  const options = { dryRun: false, openRuns: new Set<string>(), incompleteGraceMs: 0, agents: [], say: quiet, trust, signingKey: key };
  const report = await prune(openDestination(fleet.destination), { ...options, target: { kind: 'prune', policy: { keep_last: 1 } } });
  assert.equal(report.incomplete.find((i) => i.id === 'set-held')?.removed, false);
  assert.match(report.incomplete.find((i) => i.id === 'set-held')!.reason, /tandem adopt set-held/);
  assert.ok(existsSync(join(dest, 'set-held', 'n1', 'rehearsal', 'part.txt')));
  await rejects(() => prune(openDestination(fleet.destination), { ...options, target: { kind: 'delete', id: 'set-damaged' } }), /set-damaged is untrusted \(unsigned\), nothing deleted: .*tandem adopt set-damaged/);
  assert.is((await adoptSet(fleet, openDestination(fleet.destination), 'set-held', [], quiet)).file, 'pruned.json');
  assert.ok(existsSync(join(dest, prunedSignaturePath('set-held'))));
  assert.is(await statusOf('set-held'), 'pruned');
  // A marker naming another set is not signed.
  mkdirSync(join(dest, 'set-odd'));
  writeFileSync(join(dest, prunedMarkerPath('set-odd')), JSON.stringify({ format: 'tandem.pruned/v1', id: 'set-old', prunedAt: '', esSnapshots: [] }));
  await rejects(() => adoptSet(fleet, openDestination(fleet.destination), 'set-odd', [], quiet), /names backup set "set-old", not its folder set-odd: not adopted/);
});

test.run();
