/**
 * Set keys (coordinator/keys): sealed and opened, refused naming the recipients a set was written
 * for, rotated on a chain of sets at a local-folder destination (a stop between the two writes
 * included), identity files refused when others can read them, and the fleet file's section.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decrypt, encrypt, formatIdentityFile, generateIdentity, type X25519Identity } from '../../shared/age';
import { LocalDestination, readAll, type Destination } from '../../shared/destination';
import { loadFleetConfig } from '../../coordinator/config';
import {
  IdentityFileModeError,
  loadIdentityFile,
  makeSetKey,
  openSetKey,
  openStoredSetKey,
  readSetKey,
  readSetKeys,
  reseal,
  rotateSetKeys,
  setKeyInfo,
  SetKeyError,
  SetKeyNoMatchError,
  writeNewIdentityFile,
  writeSetKey,
} from '../../coordinator/keys';
import { setKeyInfoPath, setKeyPath } from '../../shared/destination/layout';
import { rejects } from '../helpers/assert';
import { generateSigningKeyPair, parseSigningKey } from '../../shared/signing';
import { testSigning, testSigningKey } from '../helpers/signing';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const tmp = scratchDirSync('keys');
test.after(() => removeScratch(tmp));

const ops = generateIdentity();
const recovery = generateIdentity();
const newOps = generateIdentity();
const r = (i: X25519Identity) => i.recipient.toString();
let folder = 0;

/** A fresh local-folder destination. */
function destination(): { dest: LocalDestination; root: string } {
  const root = join(tmp, `dest-${++folder}`);
  mkdirSync(root);
  return { dest: new LocalDestination({ type: 'local', path: root }), root };
}

/** A chain of `n` sets at `dest`, each with its own set key sealed to `recipients`, and one data file encrypted to it. */
async function chain(dest: Destination, n: number, recipients: string[]): Promise<{ ids: string[]; data: Map<string, Buffer> }> {
  const ids: string[] = [];
  const data = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const id = `tandem-20261201t10${String(i).padStart(2, '0')}00z-aa${i}`;
    const key = makeSetKey(recipients);
    await writeSetKey(dest, id, key.sealed, recipients, testSigningKey());
    const plain = Buffer.from(`rows of set ${i}`);
    await dest.writeAtomic(`${id}/node1/cassandra/thehive/table.tbz.age`, encrypt([key.recipient], plain));
    ids.push(id);
    data.set(id, plain);
  }
  return { ids, data };
}

test('a set key seals to the recipients and opens with any one of their identities, to the same identity', () => {
  const key = makeSetKey([r(ops), r(recovery)]);
  assert.match(key.recipient, /^age1/);
  for (const who of [ops, recovery]) {
    const opened = openSetKey(key.sealed, [who]);
    assert.is(opened.toString(), key.identity.toString());
    assert.is(opened.recipient.toString(), key.recipient);
  }
  // What the set's files are encrypted to opens with the opened identity.
  const file = encrypt([key.recipient], Buffer.from('case notes'));
  assert.is(decrypt([openSetKey(key.sealed, [recovery])], file).toString(), 'case notes');
});

test('a wrong identity is refused with the recipients the set was written for', () => {
  const key = makeSetKey([r(ops), r(recovery)]);
  const stranger = generateIdentity();
  assert.throws(
    () => openSetKey(key.sealed, [stranger], { id: 'tandem-x1', writtenFor: [r(ops), r(recovery)] }),
    (e: Error) => e instanceof SetKeyNoMatchError && e.message.includes(r(ops)) && e.message.includes(r(recovery)) && e.message.includes(r(stranger)) && e.message.includes('tandem-x1') && !e.message.includes('AGE-SECRET-KEY'),
  );
  // Without set-key.json the refusal says what is missing.
  assert.throws(() => openSetKey(key.sealed, [stranger]), /set-key\.json.*missing/);
  // An altered set key is damaged, not a key mismatch.
  const altered = Buffer.from(key.sealed);
  altered[altered.length - 1] ^= 1;
  assert.throws(() => openSetKey(altered, [ops]), (e: Error) => e instanceof SetKeyError && !(e instanceof SetKeyNoMatchError) && /damaged or was altered/.test(e.message));
  // An age file of something else is not a set key.
  assert.throws(() => openSetKey(encrypt([r(ops)], Buffer.from('not a key')), [ops]), /does not hold an age identity/);
});

test('reseal keeps the set identity and changes who opens it', () => {
  const key = makeSetKey([r(ops)]);
  const resealed = reseal(key.sealed, [ops], [r(newOps), r(recovery)]);
  assert.is(openSetKey(resealed, [newOps]).toString(), key.identity.toString());
  assert.throws(() => openSetKey(resealed, [ops]), (e: Error) => e instanceof SetKeyNoMatchError);
  // The identity file inside is the one sealed at the backup, creation time included.
  assert.ok(decrypt([newOps], resealed).equals(decrypt([ops], key.sealed)));
});

test('the pair at the destination: set-key.json names the recipients and the sha256 of set-key.age', async () => {
  const { dest } = destination();
  const key = makeSetKey([r(ops), r(recovery)]);
  await writeSetKey(dest, 'tandem-s1', key.sealed, [r(ops), r(recovery)], testSigningKey());
  const info = JSON.parse((await readAll(dest, setKeyInfoPath('tandem-s1'))).toString());
  assert.is(info.format, 'tandem.set-key/v1');
  assert.equal(info.recipients, [r(ops), r(recovery)]);
  const s = await readSetKey(dest, 'tandem-s1', testSigning().trusted);
  assert.is(s.state, 'sealed');
  assert.ok(s.state === 'sealed' && s.matches && s.sealed.equals(key.sealed));
  assert.is((await readSetKey(dest, 'tandem-none', testSigning().trusted)).state, 'clear');
  // A description from the destination is input: an unknown field or a bad recipient is refused.
  await dest.writeAtomic(setKeyInfoPath('tandem-s1'), JSON.stringify({ ...info, extra: 1 }));
  const bad = await readSetKey(dest, 'tandem-s1', testSigning().trusted);
  assert.ok(bad.state === 'sealed' && bad.info === null && /set-key\.json is not a valid/.test(bad.problem ?? ''));
});

test('a stored set key opens by id, and a refusal names the recipients set-key.json records', async () => {
  const { dest } = destination();
  const key = makeSetKey([r(ops), r(recovery)]);
  await writeSetKey(dest, 'tandem-open1', key.sealed, [r(ops), r(recovery)], testSigningKey());
  assert.is((await openStoredSetKey(dest, 'tandem-open1', [recovery])).toString(), key.identity.toString());
  const e = await rejects(() => openStoredSetKey(dest, 'tandem-open1', [newOps]), /none of the identities given/);
  assert.ok(e instanceof SetKeyNoMatchError && e.message.includes(`it is sealed to ${r(ops)}, ${r(recovery)}`) && e.message.includes('tandem-open1'), e.message);
  await rejects(() => openStoredSetKey(dest, 'tandem-clear', [ops]), /written without encryption/);
});

test('rotation on a chain of 10 sets: every set key opens with the new identity alone, none with the removed one, data untouched', async () => {
  const { dest, root } = destination();
  const { ids, data } = await chain(dest, 10, [r(ops), r(recovery)]);
  const dataBefore = await Promise.all(ids.map((id) => readFile(join(root, id, 'node1/cassandra/thehive/table.tbz.age'))));
  const fleet = [r(newOps), r(recovery)];
  // A dry run says what would change and writes nothing.
  const dry = await rotateSetKeys(dest, fleet, [], testSigning(), { dryRun: true });
  assert.equal(dry.map((o) => o.outcome), ids.map(() => 'would-reseal'));
  assert.equal(dry[0].added, [r(newOps)]);
  assert.equal(dry[0].removed, [r(ops)]);
  assert.ok((await readSetKeys(dest, testSigning().trusted)).every((s) => s.state === 'sealed' && s.info?.recipients.includes(r(ops))));

  const started = performance.now();
  const done = await rotateSetKeys(dest, fleet, [ops], testSigning());
  const seconds = (performance.now() - started) / 1000;
  assert.equal(done.map((o) => o.outcome), ids.map(() => 'resealed'));
  assert.ok(seconds < 5, `rotation of 10 sets took ${seconds} s`);
  for (const [i, id] of ids.entries()) {
    const s = await readSetKey(dest, id, testSigning().trusted);
    assert.ok(s.state === 'sealed' && s.matches);
    if (s.state !== 'sealed') continue;
    assert.equal(s.info?.recipients, fleet);
    const setIdentity = openSetKey(s.sealed, [newOps]);
    assert.throws(() => openSetKey(s.sealed, [ops], { id, writtenFor: s.info!.recipients }), (e: Error) => e instanceof SetKeyNoMatchError && e.message.includes(r(newOps)));
    // The data files are the same bytes and open with the set identity the new key unseals.
    const file = await readFile(join(root, id, 'node1/cassandra/thehive/table.tbz.age'));
    assert.ok(file.equals(dataBefore[i]));
    assert.ok(decrypt([setIdentity], file).equals(data.get(id)!));
  }
  // A second rotation has nothing to do.
  assert.equal((await rotateSetKeys(dest, fleet, [newOps], testSigning())).map((o) => o.outcome), ids.map(() => 'current'));
  // --all reseals them anyway (set-key.json is not authenticated yet), to the same recipients.
  assert.equal((await rotateSetKeys(dest, fleet, [newOps], testSigning(), { all: true })).map((o) => o.outcome), ids.map(() => 'resealed'));
  assert.ok(openSetKey(((await readSetKey(dest, ids[0], testSigning().trusted)) as { sealed: Buffer }).sealed, [recovery]));
});

test('rotation with an identity that opens nothing writes nothing and says which recipients would', async () => {
  const { dest } = destination();
  const { ids } = await chain(dest, 2, [r(ops)]);
  const before = await readAll(dest, setKeyPath(ids[0]));
  const out = await rotateSetKeys(dest, [r(newOps)], [recovery], testSigning());
  assert.equal(out.map((o) => o.outcome), ['failed', 'failed']);
  assert.ok(out[0].problem?.includes(r(ops)));
  assert.ok((await readAll(dest, setKeyPath(ids[0]))).equals(before));
});

test('a rotation stopped between set-key.age and set-key.json: the set still opens with the new key, and rotate finishes it', async () => {
  const { dest } = destination();
  const { ids } = await chain(dest, 3, [r(ops)]);
  // A destination that fails every write of set-key.json: the process stopping right after set-key.age.
  const stopping: Destination = Object.create(dest, {
    writeAtomic: { value: async (path: string, body: Buffer | string) => {
      if (path.endsWith('/set-key.json')) throw new Error('stopped');
      return dest.writeAtomic(path, body);
    } },
  });
  const out = await rotateSetKeys(stopping, [r(newOps)], [ops], testSigning());
  assert.ok(out.every((o) => o.outcome === 'failed' && o.problem === 'stopped'));
  for (const id of ids) {
    const s = await readSetKey(dest, id, testSigning().trusted);
    assert.ok(s.state === 'sealed' && !s.matches && /rotation stopped/.test(s.problem ?? ''), JSON.stringify(s.state === 'sealed' && s.problem));
    if (s.state === 'sealed') assert.ok(openSetKey(s.sealed, [newOps]));
  }
  // Rotate again with the new identity: it reseals the half-done pairs and the descriptions match again.
  const again = await rotateSetKeys(dest, [r(newOps)], [newOps], testSigning());
  assert.equal(again.map((o) => o.outcome), ['resealed', 'resealed', 'resealed']);
  assert.equal(again[0].before, null);
  for (const id of ids) {
    const s = await readSetKey(dest, id, testSigning().trusted);
    assert.ok(s.state === 'sealed' && s.matches && s.info?.recipients[0] === r(newOps));
  }
});

test('a set-key.json not signed by a trusted key is not believed: a planted "current" description is resealed, a pair copied from another set too', async () => {
  const { dest } = destination();
  const { ids } = await chain(dest, 2, [r(ops)]);
  // Someone with write access says the first set is already sealed to the new recipient only, so that rotate would skip it.
  const s0 = await readSetKey(dest, ids[0], testSigning().trusted);
  if (s0.state !== 'sealed') throw new Error('chain wrote no set key');
  await dest.writeAtomic(setKeyInfoPath(ids[0]), setKeyInfo(s0.sealed, [r(newOps)]));
  const planted = await readSetKey(dest, ids[0], testSigning().trusted);
  assert.ok(planted.state === 'sealed' && !planted.matches && /set-key\.json is not believed \(bad-signature/.test(planted.problem ?? ''), JSON.stringify(planted.state === 'sealed' && planted.problem));
  // Signed by a key the fleet does not trust: not believed either.
  const stranger = parseSigningKey(generateSigningKeyPair().privatePem, 'stranger');
  await writeSetKey(dest, ids[1], s0.sealed, [r(newOps)], stranger);
  const foreign = await readSetKey(dest, ids[1], testSigning().trusted);
  assert.ok(foreign.state === 'sealed' && !foreign.matches && /unknown-key/.test(foreign.problem ?? ''));
  const out = await rotateSetKeys(dest, [r(newOps)], [ops], testSigning());
  assert.equal(out.map((o) => o.outcome), ['resealed', 'resealed']);
  // A signed triple copied whole into another set's folder: its signature names the set it was written for.
  for (const f of ['set-key.age', 'set-key.json', 'set-key.sig']) await dest.writeAtomic(`${ids[1]}/${f}`, await readAll(dest, `${ids[0]}/${f}`));
  const copied = await readSetKey(dest, ids[1], testSigning().trusted);
  assert.ok(copied.state === 'sealed' && !copied.matches && /bad-signature/.test(copied.problem ?? ''));
  assert.ok((await readSetKey(dest, ids[0], testSigning().trusted)).state === 'sealed');
});

test('sets without a key are clear, and a description without its key is damaged', async () => {
  const { dest } = destination();
  await dest.writeAtomic('tandem-clear1/manifest.json', '{}');
  await dest.writeAtomic(setKeyInfoPath('tandem-half1'), '{}');
  const out = await rotateSetKeys(dest, [r(ops)], [ops], testSigning());
  assert.equal(out.map((o) => [o.id, o.outcome]), [['tandem-clear1', 'clear'], ['tandem-half1', 'failed']]);
  assert.match(out[1].problem!, /set-key\.age is not/);
});

test('identity files: 0600 loads, group- or other-readable is refused saying chmod 600', async () => {
  const { file, recipient } = await writeNewIdentityFile(join(tmp, 'init'));
  assert.is((await stat(file)).mode & 0o777, 0o600);
  assert.is((await stat(join(tmp, 'init'))).mode & 0o777, 0o700);
  const ids = await loadIdentityFile(file);
  assert.is(ids.length, 1);
  assert.is(ids[0].recipient.toString(), recipient);
  // Never replaced.
  await rejects(() => writeNewIdentityFile(join(tmp, 'init')), /exists/);
  for (const mode of [0o640, 0o604, 0o644]) {
    chmodSync(file, mode);
    const e = await rejects(() => loadIdentityFile(file), new RegExp(`mode ${mode.toString(8)}.*chmod 600 ${file}`));
    assert.instance(e, IdentityFileModeError);
  }
  chmodSync(file, 0o400);
  assert.is((await loadIdentityFile(file)).length, 1);
  // Several identities in one file (an old and a new key during a change) all load.
  const two = join(tmp, 'two.txt');
  writeFileSync(two, formatIdentityFile(ops) + formatIdentityFile(newOps), { mode: 0o600 });
  assert.equal((await loadIdentityFile(two)).map(r), [r(ops), r(newOps)]);
  await rejects(() => loadIdentityFile(join(tmp, 'absent.txt')), /cannot read identity file/);
  await rejects(() => loadIdentityFile(tmp), /not a regular file/);
});

test('fleet file: encryption defaults to none, age needs distinct valid recipients', () => {
  // Every fleet file names a signing key (the fleet's required signing block).
  const base = 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\ndestination: {type: local, path: /backups}\nsigning: {key: /etc/tandem/signing.key}\n';
  const file = (name: string, text: string) => {
    const p = join(tmp, name);
    writeFileSync(p, base + text);
    return p;
  };
  assert.equal(loadFleetConfig(file('f0.yaml', '')).encryption, { mode: 'none' });
  const f = loadFleetConfig(file('f1.yaml', `encryption: {mode: age, recipients: [${r(ops).toUpperCase()}, ${r(recovery)}], identity: /etc/tandem/age-identity.txt}\n`));
  assert.equal(f.encryption, { mode: 'age', recipients: [r(ops), r(recovery)], identity: '/etc/tandem/age-identity.txt' });
  assert.throws(() => loadFleetConfig(file('f2.yaml', 'encryption: {mode: age, recipients: []}\n')), /encryption.recipients: give at least one/);
  assert.throws(() => loadFleetConfig(file('f3.yaml', `encryption: {mode: age, recipients: [${r(ops)}, ${r(ops)}]}\n`)), /distinct/);
  assert.throws(() => loadFleetConfig(file('f4.yaml', 'encryption: {mode: age, recipients: [age1nope]}\n')), /encryption.recipients.0: recipient "age1nope"/);
  assert.throws(() => loadFleetConfig(file('f5.yaml', `encryption: {mode: age, recipients: [${r(ops)}], identity: relative.txt}\n`)), /encryption.identity/);
  assert.throws(() => loadFleetConfig(file('f6.yaml', `encryption: {mode: none, recipients: [${r(ops)}]}\n`)), /encryption/);
  assert.throws(() => loadFleetConfig(file('f7.yaml', 'encryption: {mode: gpg}\n')), /encryption.mode/);
});

test.run();
