/**
 * Signed sets through the real CLI, with real agents (rehearsal role) and a local destination:
 * every set's manifest is signed as it is written; a planted pruned.json, an altered manifest and
 * planted future manifests change nothing a prune, restore or backup does; `tandem adopt` signs an
 * unsigned set only after it verifies; a rotated key's sets stay trusted while listed.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { writeRehearsalSet } from '../helpers/rehearsal-set';
import { signingKeyAt, writeSigningKeySync } from '../helpers/signing';

let f: TestFleet;
test.before(async () => {
  f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 0 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 0 } } }]);
  await startFleet(f);
});
test.after(async () => {
  await removeFleet(f);
});

const cli = (...args: string[]) => runCli([...args, '--config', f.fleetFile]);
const list = async () => (JSON.parse((await cli('list', '--all', '--json')).stdout).backupSets as { id: string; status: string; reason?: string }[]).map((s) => `${s.id}:${s.status}${s.reason ? `:${s.reason}` : ''}`);
async function backup(id: string): Promise<{ parent: string | null }> {
  const r = await cli('backup', '--id', id, '--json');
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a backup writes manifest.sig before manifest.json, and a planted pruned.json in the newest set deletes nothing', async () => {
  await backup('sig-1');
  await backup('sig-2');
  assert.ok(existsSync(join(f.destDir, 'sig-2', 'manifest.sig')));
  assert.equal(await list(), ['sig-1:complete', 'sig-2:complete']);
  writeFileSync(join(f.destDir, 'sig-2', 'pruned.json'), JSON.stringify({ format: 'tandem.pruned/v1', id: 'x', prunedAt: '', esSnapshots: [] }));
  const shown = await cli('list');
  assert.match(shown.stdout, /sig-2 {2}complete .*pruned\.json ignored \(unsigned/);
  const p = await cli('prune', '--keep-last', '10', '--json');
  assert.is(p.code, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).ignoredMarkers.map((m: { id: string }) => m.id), ['sig-2']);
  assert.ok(existsSync(join(f.destDir, 'sig-2', 'manifest.json')));
  rmSync(join(f.destDir, 'sig-2', 'pruned.json'));
});

test('planted manifests dated 2099 take nothing over: keep-last, the parent and verify see only signed sets', async () => {
  for (const id of ['sig-x1', 'sig-x2', 'sig-x3']) writeRehearsalSet(f.destDir, id, { key: null, completedAt: '2099-01-01T00:00:00.000Z', nodes: ['n1', 'n2'] });
  const p = await cli('prune', '--keep-last', '2', '--json');
  assert.is(p.code, 0, p.stderr);
  const report = JSON.parse(p.stdout);
  assert.equal(report.kept.map((k: { id: string }) => k.id), ['sig-2', 'sig-1']);
  assert.equal(report.untrusted.map((u: { id: string; reason: string }) => `${u.id}:${u.reason}`), ['sig-x1:unsigned', 'sig-x2:unsigned', 'sig-x3:unsigned']);
  assert.is((await backup('sig-3')).parent, 'sig-2', 'never a planted set');
  const v = await cli('verify', 'sig-x1');
  assert.is(v.code, 1);
  assert.match(v.stderr, /backup set sig-x1 is untrusted \(unsigned: .*tandem adopt sig-x1/);
  const r = await cli('restore', 'sig-x1', '--yes');
  assert.is(r.code, 1);
  assert.match(r.stderr, /sig-x1 is untrusted/);
  for (const id of ['sig-x1', 'sig-x2', 'sig-x3']) rmSync(join(f.destDir, id), { recursive: true });
});

test('a manifest altered after it was signed is untrusted (bad-signature) and not restored; put back, it is a set again', async () => {
  const file = join(f.destDir, 'sig-3', 'manifest.json');
  const good = readFileSync(file);
  writeFileSync(file, good.toString().replace(/"tandemVersion": "[^"]*"/, '"tandemVersion": "planted"'));
  assert.ok((await list()).includes('sig-3:untrusted:bad-signature'));
  const shown = await cli('show', 'sig-3');
  assert.is(shown.code, 1);
  assert.match(shown.stderr, /sig-3 is untrusted \(bad-signature: .*manifest\.json changed after it was signed/);
  writeFileSync(file, good);
  assert.ok((await list()).includes('sig-3:complete'));
});

test('adopt: an unsigned set is signed after it verifies; a damaged one is refused, naming the file', async () => {
  renameSync(join(f.destDir, 'sig-1', 'manifest.sig'), join(f.destDir, 'sig-1', 'manifest.sig.away'));
  assert.ok((await list()).includes('sig-1:untrusted:unsigned'));
  const a = await cli('adopt', 'sig-1', '--json');
  assert.is(a.code, 0, a.stderr);
  assert.is(JSON.parse(a.stdout).outcome, 'adopted');
  assert.ok((await list()).includes('sig-1:complete'));

  rmSync(join(f.destDir, 'sig-2', 'manifest.sig'));
  const part = join(f.destDir, 'sig-2', 'n1', 'rehearsal', 'part.txt');
  writeFileSync(part, readFileSync(part).reverse());
  const refused = await cli('adopt', 'sig-2');
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /sig-2 is not adopted: verification found 1 problem\(s\): sig-2\/n1\/rehearsal\/part\.txt: sha256 .* \(corrupt\)/);
  assert.not.ok(existsSync(join(f.destDir, 'sig-2', 'manifest.sig')));
});

test('key rotation: sets of the old key stay trusted while its public key is in signing.trusted', async () => {
  const conf = JSON.parse(readFileSync(f.fleetFile, 'utf8'));
  const next = writeSigningKeySync(f.pki, 'signing-next');
  writeFileSync(f.fleetFile, JSON.stringify({ ...conf, signing: { key: next.key, trusted: [f.signing.pub] } }));
  assert.ok((await list()).includes('sig-3:complete'), 'signed by the old key, still trusted');
  const b = await backup('sig-4');
  assert.is(b.parent, 'sig-3');
  assert.match(readFileSync(join(f.destDir, 'sig-4', 'manifest.sig'), 'utf8'), new RegExp(signingKeyAt(next.key).keyId));
  // The old key retired: its sets are untrusted (unknown-key), the new one's are not.
  writeFileSync(f.fleetFile, JSON.stringify({ ...conf, signing: { key: next.key } }));
  const now = await list();
  assert.ok(now.includes('sig-3:untrusted:unknown-key'), now.join(' '));
  assert.ok(now.includes('sig-4:complete'));
  writeFileSync(f.fleetFile, JSON.stringify(conf));
});

test.run();
