/**
 * Encrypted backup sets end to end on real agents (the rehearsal role, no sandbox): `tandem backup`
 * with `encryption: {mode: age}` writes the set key first and every file of the set as NAME.age;
 * no stored byte is the plaintext; the stored file opens with the set key alone (shared/age);
 * verify needs no identity; restore opens the set key with the identity and the agents read the
 * plaintext back; a wrong identity, an identity file others can read, and a replaced ciphertext
 * are refused. (The index of an encrypted set: test/integration/encrypted-index.test.ts.)
 */
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decrypt, encrypt } from '../../shared/age';
import { loadIdentityFile, openStoredSetKey, writeNewIdentityFile } from '../../coordinator/keys';
import { openDestination } from '../../shared/destination';
import { parseManifest } from '../../shared/manifest';
import { filesUnder } from '../helpers/files-under';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';

const ID = 'tandem-20261207t120000z-e0c0e0';
/** What the rehearsal role stores, in clear: no stored byte of the set may hold it. */
const MARKER = 'rehearsal part of';

let f: TestFleet;
let ops: { file: string; recipient: string };
let other: { file: string; recipient: string };

/** The fleet file with `patch` applied. */
async function patchFleet(patch: (config: Record<string, unknown>) => void, file = f.fleetFile): Promise<string> {
  const config = JSON.parse(await readFile(f.fleetFile, 'utf8')) as Record<string, unknown>;
  patch(config);
  await writeFile(file, JSON.stringify(config));
  return file;
}

test.before(async () => {
  f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 20, readBack: true } } }, { node: 'n2', roles: { rehearsal: { shipMs: 20, readBack: true } } }]);
  ops = await writeNewIdentityFile(join(f.dir, 'keys-ops'));
  other = await writeNewIdentityFile(join(f.dir, 'keys-other'));
  await patchFleet((c) => (c.encryption = { mode: 'age', recipients: [ops.recipient], identity: ops.file }));
  await startFleet(f);
});
test.after(async () => {
  await removeFleet(f);
});

test('backup with mode age: set key first, every stored file NAME.age, the manifest records ciphertext and the set recipient', async () => {
  const b = await runCli(['backup', '--config', f.fleetFile, '--id', ID]);
  assert.is(b.code, 0, b.stderr);
  const set = join(f.destDir, ID);
  const manifest = parseManifest(await readFile(join(set, 'manifest.json')), ID);
  assert.match(manifest.options.setRecipient ?? '', /^age1/);
  const info = JSON.parse(await readFile(join(set, 'set-key.json'), 'utf8')) as { recipients: string[] };
  assert.equal(info.recipients, [ops.recipient]);
  // set-key.json is signed by the coordinator: keys list believes it, and says the set is current.
  const keys = await runCli(['keys', 'list', '--config', f.fleetFile, '--json']);
  assert.is(keys.code, 0, keys.stderr);
  assert.equal(JSON.parse(keys.stdout).backupSets.map((s: { id: string; current: boolean }) => [s.id, s.current]), [[ID, true]]);
  for (const node of ['n1', 'n2']) {
    const own = manifest.files.filter((x) => x.node === node && x.role === 'rehearsal');
    assert.equal(own.map((x) => x.path), [`${ID}/${node}/rehearsal/part.txt.age`]);
    const stored = await readFile(join(f.destDir, own[0].path));
    assert.is(stored.length, own[0].size, 'the manifest records the stored (ciphertext) size');
  }
  // No byte of the set is the plaintext.
  for (const file of await filesUnder(set)) assert.not.ok((await readFile(file)).includes(MARKER), `${file} holds the plaintext`);
  const names = (await filesUnder(set)).map((p) => p.slice(set.length + 1)).sort();
  assert.ok(names.includes('n1/rehearsal/part.txt.age') && !names.includes('n1/rehearsal/part.txt'), names.join(' '));
});

test('a stored file opens with the set key alone', async () => {
  const identities = await loadIdentityFile(ops.file);
  const setKey = await openStoredSetKey(openDestination({ type: 'local', path: f.destDir }), ID, identities);
  const plain = decrypt([setKey], await readFile(join(f.destDir, ID, 'n1', 'rehearsal', 'part.txt.age')));
  assert.is(plain.toString(), `${MARKER} ${ID} from n1\n`);
});

test('verify needs no identity; show --archives needs it and prints how to unseal the set key', async () => {
  const noIdentity = await patchFleet((c) => (c.encryption = { mode: 'age', recipients: [ops.recipient] }), join(f.dir, 'no-identity.yaml'));
  const v = await runCli(['verify', ID, '--config', noIdentity]);
  assert.is(v.code, 0, v.stderr + v.stdout);
  // show --archives reads contents.json, encrypted too: it needs the identity, and prints how to unseal the key.
  const none = await runCli(['show', ID, '--archives', '--config', noIdentity]);
  assert.is(none.code, 1, none.stderr);
  assert.match(none.stderr, '--identity FILE');
  const show = await runCli(['show', ID, '--archives', '--config', f.fleetFile]);
  assert.is(show.code, 0, show.stderr);
  assert.ok(show.stdout.split('\n').includes(`age -d -i ${ops.file} -o set-key-${ID}.txt ${join(f.destDir, ID, 'set-key.age')}`), show.stdout);
});

test('restore opens the set key with the identity; the agents read the plaintext back; nothing of the identity is on their disks', async () => {
  const r = await runCli(['restore', ID, '--config', f.fleetFile, '--yes']);
  assert.is(r.code, 0, r.stderr);
  for (const a of f.agents) {
    const restoreIds = (await readdir(a.markerDir)).filter((d) => d.startsWith('restore-'));
    assert.is(restoreIds.length, 1);
    assert.is(await readFile(join(a.markerDir, restoreIds[0], 'read-back'), 'utf8'), `${MARKER} ${ID} from ${a.node}\n`);
    // The set identity travels in the request only: no file of the agent's state holds a secret key.
    for (const file of await filesUnder(a.stateDir)) assert.not.ok((await readFile(file)).includes('AGE-SECRET-KEY-1'), `${file} holds an age identity`);
  }
});

test('restore with an identity that opens nothing is refused naming the recipients; an identity file others can read is refused', async () => {
  const wrong = await runCli(['restore', ID, '--config', f.fleetFile, '--yes', '--identity', other.file]);
  assert.is.not(wrong.code, 0);
  assert.match(wrong.stderr, `it is sealed to ${ops.recipient}`);
  await chmod(other.file, 0o644);
  const open = await runCli(['restore', ID, '--config', f.fleetFile, '--yes', '--identity', other.file]);
  assert.is.not(open.code, 0);
  assert.match(open.stderr, 'chmod 600');
  await chmod(other.file, 0o600);
});

test('a replaced ciphertext (a valid age file to the set recipient) fails verify and restore', async () => {
  const manifest = parseManifest(await readFile(join(f.destDir, ID, 'manifest.json')), ID);
  const path = join(f.destDir, ID, 'n2', 'rehearsal', 'part.txt.age');
  const original = await readFile(path);
  // Anyone holding the set's recipient (every agent) can write an age file to it: the manifest's digest is what refuses it.
  await writeFile(path, encrypt([manifest.options.setRecipient!], Buffer.from(`${MARKER} ${ID} from n2\n`)));
  try {
    const v = await runCli(['verify', ID, '--config', f.fleetFile]);
    assert.is(v.code, 1, v.stderr + v.stdout);
    const r = await runCli(['restore', ID, '--config', f.fleetFile, '--yes']);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, 'damaged');
  } finally {
    await writeFile(path, original);
  }
});

test('a drill of the encrypted set reads it back through the set key', async () => {
  const d = await runCli(['drill', ID, '--config', f.fleetFile, '--json']);
  assert.is(d.code, 0, d.stderr + d.stdout);
  assert.ok(JSON.parse(d.stdout).ok);
});

test('after a rotation to a new key the set restores with the new identity alone, and the removed one opens nothing', async () => {
  const next = await writeNewIdentityFile(join(f.dir, 'keys-next'));
  await patchFleet((c) => (c.encryption = { mode: 'age', recipients: [next.recipient], identity: next.file }));
  const rot = await runCli(['keys', 'rotate', '--config', f.fleetFile, '--identity', ops.file]);
  assert.is(rot.code, 0, rot.stderr + rot.stdout);
  const r = await runCli(['restore', ID, '--config', f.fleetFile, '--yes']);
  assert.is(r.code, 0, r.stderr);
  const old = await runCli(['restore', ID, '--config', f.fleetFile, '--yes', '--identity', ops.file]);
  assert.is(old.code, 1, old.stderr);
  assert.match(old.stderr, `it is sealed to ${next.recipient}`);
  ops = next;
});

test('mode none still writes a set in clear', async () => {
  const clear = await patchFleet((c) => (c.encryption = { mode: 'none' }), join(f.dir, 'clear.yaml'));
  const id = 'tandem-20261207t120100z-c1ea70';
  const b = await runCli(['backup', '--config', clear, '--id', id]);
  assert.is(b.code, 0, b.stderr);
  assert.is(await readFile(join(f.destDir, id, 'n1', 'rehearsal', 'part.txt'), 'utf8'), `${MARKER} ${id} from n1\n`);
});

test.run();
