/**
 * The two views of an encrypted set, over a real local destination in a scratch folder: what a
 * role stores lands as NAME.age and is recorded by its ciphertext; what a restore reads is
 * checked against the manifest's record of the ciphertext before its plaintext ends; the agent's
 * plaintext copies serve only the stored file they were written as.
 */
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decrypt, encrypt, generateIdentity } from '../../shared/age';
import { openDestination } from '../../shared/destination';
import { OpenedDestination, restoreDestination } from '../../shared/encrypted-set';
import type { Manifest } from '../../shared/manifest';
import { SealedDestination } from '../../agent/backup/sealed-destination';
import { LocalCopies } from '../../agent/backup/local-copies';
import { sha256Of } from '../../shared/parts/io';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const root = scratchDirSync('encrypted-set');
mkdirSync(join(root, 'dest'));
test.after(() => removeScratch(root));

const key = generateIdentity();
const recipient = key.recipient.toString();
const dest = openDestination({ type: 'local', path: join(root, 'dest') });
const SET = 'tandem-20261207t010000z-aaaaaa';
const body = Buffer.from('case notes: observable 10.0.0.1\n'.repeat(5000));

/** A manifest's file lists and parts, as OpenedDestination reads them. */
function manifestOf(files: { path: string; size: number; sha256: string }[], plain: { path: string; size: number; sha256: string }): Pick<Manifest, 'files' | 'references' | 'nodes'> {
  return {
    files: files.map((f) => ({ ...f, node: 'n1', role: 'rehearsal' as const })),
    references: [],
    nodes: [{ parts: { rehearsal: { file: plain, summary: '' } } }] as unknown as Manifest['nodes'],
  };
}

test('a sealed destination stores NAME.age, records its ciphertext, and never the plaintext', async () => {
  const sealed = new SealedDestination(dest, recipient);
  const put = await sealed.put(`${SET}/n1/rehearsal/big.bin`, Readable.from([body]), { size: body.length });
  assert.is(put.size, body.length, 'the role sees the size of what it put');
  await sealed.writeAtomic(`${SET}/n1/rehearsal/small.json`, '{"a":1}\n');
  for (const name of ['big.bin', 'small.json']) {
    const plain = { path: `${SET}/n1/rehearsal/${name}`, size: 0, sha256: '' };
    const stored = sealed.storedAs(plain);
    assert.is(stored.path, `${plain.path}.age`);
    const bytes = await readFile(join(root, 'dest', stored.path));
    assert.is(stored.size, bytes.length);
    assert.is(stored.sha256, sha256Of(bytes));
    assert.is(await dest.stat(plain.path), null, 'no plain file at the destination');
    assert.not.ok(bytes.includes('observable'));
  }
  assert.ok(decrypt([key], await readFile(join(root, 'dest', SET, 'n1/rehearsal/big.bin.age'))).equals(body));
  assert.throws(() => sealed.storedAs({ path: `${SET}/n1/rehearsal/other`, size: 1, sha256: '' }), /not stored through the set's encryption/);
  try {
    await sealed.put(`${SET}/n1/rehearsal/short.bin`, Readable.from([body]), { size: body.length + 1 });
    assert.unreachable('a source shorter than its size is refused');
  } catch (err) {
    assert.match((err as Error).message, 'bytes read');
  }
});

test('an opened destination hands out the plaintext of what the manifest records, and refuses a replaced ciphertext before its end', async () => {
  const path = `${SET}/n1/rehearsal/big.bin`;
  const stored = await readFile(join(root, 'dest', `${path}.age`));
  const m = manifestOf([{ path: `${path}.age`, size: stored.length, sha256: sha256Of(stored) }], { path, size: body.length, sha256: sha256Of(body) });
  const opened = new OpenedDestination(dest, [key], m);
  assert.ok((await opened.readSmall(path, body.length)).equals(body));
  assert.equal(await opened.stat(path), { size: body.length });
  try {
    await opened.get(`${SET}/n1/rehearsal/small.json`);
    assert.unreachable('a file the manifest does not record is not handed out');
  } catch (err) {
    assert.match((err as Error).message, 'is not a file of this encrypted set');
  }
  // Anyone with the recipient can write a valid age file to it: the manifest's digest refuses it.
  await writeFile(join(root, 'dest', `${path}.age`), encrypt([recipient], Buffer.concat([body.subarray(0, 10), Buffer.from('x'), body.subarray(11)])));
  const got: Buffer[] = [];
  try {
    for await (const c of await opened.get(path)) got.push(c as Buffer);
    assert.unreachable('a replaced file is refused');
  } catch (err) {
    assert.match((err as Error).message, /was replaced|larger than/);
  }
  assert.ok(Buffer.concat(got).length < body.length, 'its plaintext never ends');
  await writeFile(join(root, 'dest', `${path}.age`), stored);
});

test('restoreDestination: a clear set refuses identities, an encrypted one needs the identity of its recipient', () => {
  const clear = { id: SET, options: { setRecipient: null } } as unknown as Manifest;
  assert.is(restoreDestination(dest, clear, []), dest);
  assert.throws(() => restoreDestination(dest, clear, [key.toString()]), /is not encrypted/);
  const enc = { id: SET, options: { setRecipient: recipient }, files: [], references: [], nodes: [] } as unknown as Manifest;
  assert.throws(() => restoreDestination(dest, enc, []), /--identity FILE/);
  assert.throws(() => restoreDestination(dest, enc, [generateIdentity().toString()]), /is encrypted to/);
  assert.throws(() => restoreDestination(dest, enc, ['AGE-SECRET-KEY-1NOTAKEY']), (err: Error) => /not an age identity/.test(err.message) && !err.message.includes('NOTAKEY'));
  assert.instance(restoreDestination(dest, enc, [key.toString()]), OpenedDestination);
});

test('local copies serve only the stored file they were written as; two sets are kept', async () => {
  const copies = new LocalCopies(join(root, 'state', 'sealed'));
  const stored = { path: `${SET}/n1/cassandra/contents.json.age`, size: 10, sha256: 'a'.repeat(64) };
  await copies.keep(`${SET}/n1/cassandra/contents.json`, Buffer.from('{"t":1}'), stored);
  assert.is((await copies.read(stored))?.toString(), '{"t":1}');
  assert.is(await copies.read({ ...stored, sha256: 'b'.repeat(64) }), null, 'another stored file: no copy');
  assert.is(await copies.read({ ...stored, path: `${SET}/n1/cassandra/contents.json` }), null, 'a clear path: no copy');
  const sets = ['tandem-20261207t020000z-bbbbbb', 'tandem-20261207t030000z-cccccc'];
  for (const s of sets) {
    await new Promise((r) => setTimeout(r, 20));
    await copies.keep(`${s}/n1/cassandra/contents.json`, Buffer.from('{}'), { ...stored, path: `${s}/n1/cassandra/contents.json.age` });
  }
  assert.is(await copies.read(stored), null, 'the oldest set is pruned');
  assert.is((await copies.read({ ...stored, path: `${sets[0]}/n1/cassandra/contents.json.age` }))?.toString(), '{}');
  await assert.not.throws(() => copies.read({ ...stored, path: '../../etc/passwd.age' }).catch(() => null));
});

test.run();
