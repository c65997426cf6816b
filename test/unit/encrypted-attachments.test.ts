/**
 * Attachments of an encrypted set, over a real local destination in a scratch folder: stored
 * through the sealed destination under an opaque name, listed with their ciphertext's size and
 * sha256 (which the agent forgets once taken); read back through the opened set only when the
 * stored bytes are the listed ones; a listing entry without its ciphertext record is refused.
 */
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encrypt, generateIdentity } from '../../shared/age';
import { openDestination } from '../../shared/destination';
import { attachmentSource, OpenedDestination } from '../../shared/encrypted-set';
import type { Manifest } from '../../shared/manifest';
import { SealedDestination } from '../../agent/backup/sealed-destination';
import { attachmentTarget, putHashed } from '../../agent/roles/files/copy';
import { sha256Of } from '../../shared/parts/io';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const root = scratchDirSync('encrypted-attachments');
mkdirSync(join(root, 'dest'));
test.after(() => removeScratch(root));

const key = generateIdentity();
const dest = openDestination({ type: 'local', path: join(root, 'dest') });
const SET = 'tandem-20261207t020000z-bbbbbb';
const NAME = 'aa/bb/0123abcd-attachment-name';
const body = Buffer.from('attachment body '.repeat(3000));
const none: Pick<Manifest, 'files' | 'references' | 'nodes'> = { files: [], references: [], nodes: [] };

/** Asserts that `p` rejects with a message matching `re`. */
async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}

const collect = async (r: Readable) => {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
};

test('an attachment is stored under an opaque name, its ciphertext recorded once; the opened set gives it back only as listed', async () => {
  const sealed = new SealedDestination(dest, key.recipient.toString());
  const target = attachmentTarget(sealed, SET, 'n1', 'localfs', NAME);
  assert.match(target.path, new RegExp(`^${SET}/n1/files/sealed/[0-9a-f]{2}/[0-9a-f]{32}$`));
  assert.not.match(target.path, 'attachment-name');
  assert.equal(attachmentTarget(dest, SET, 'n1', 'localfs', NAME), { path: `${SET}/n1/files/data/${NAME}` }, 'a clear set keeps the store name');
  const r = await putHashed(sealed, target.path, () => Readable.from([body]), new AbortController().signal);
  assert.equal([r.size, r.sha256], [body.length, sha256Of(body)]);
  const stored = await readFile(join(root, 'dest', `${target.path}.age`));
  assert.equal(r.sealed, { size: stored.length, sha256: sha256Of(stored) });
  assert.throws(() => sealed.takeSealed(target.path), /not stored through/, 'taken once: a store of millions is not held');

  const opened = new OpenedDestination(dest, [key], none);
  const entry = { sealed: { name: target.sealedName!, ...r.sealed! } };
  assert.ok((await collect(await attachmentSource(opened, target.path, entry))).equals(body));
  await rejects(attachmentSource(opened, target.path, {}), /records no ciphertext size and sha256/);
  await rejects(attachmentSource(dest, target.path, entry), /read as a clear one/);

  // A valid age file to the same recipient in its place: refused before its plaintext ends.
  await writeFile(join(root, 'dest', `${target.path}.age`), encrypt([key.recipient.toString()], Buffer.from('planted '.repeat(3000))));
  await rejects(collect(await attachmentSource(opened, target.path, entry)), /corrupt or was replaced|larger than/);
});

test.run();
