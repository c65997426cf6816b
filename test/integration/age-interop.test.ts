/**
 * shared/age against the reference age (filippo.io/age, built by test/tools/age.sh): what we
 * encrypt `age -d -i` opens, what `age -e -r` writes we open, with keys from age-keygen and from
 * generateIdentity, at 0 bytes, 1 byte, 200 KiB (several chunks) and 1 MiB. Needs Go (or the
 * binaries already in .cache/age/bin); without them every test fails saying so, none is skipped.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decrypt, encrypt, formatIdentityFile, generateIdentity, parseIdentityFile } from '../../shared/age';
import { makeSetKey } from '../../coordinator/keys';
import { runCommand } from '../../shared/exec';
import { scratchDir } from '../helpers/scratch';

const REPO = join(__dirname, '..', '..', '..');
const SIZES = [0, 1, 200 * 1024, 1024 * 1024];

let built: Promise<{ bin: string; work: string }> | null = null;
/** The folder of the reference binaries, built once; a clear failure when Go is missing. */
function reference(): Promise<{ bin: string; work: string }> {
  built ??= (async () => {
    let bin: string;
    try {
      bin = (await runCommand(['bash', join(REPO, 'test', 'tools', 'age.sh')], { cwd: REPO, timeoutMs: 10 * 60_000 })).stdout.trim();
    } catch (err) {
      throw new Error(`the reference age could not be built by test/tools/age.sh (install Go: apt-get install golang-go, or put age and age-keygen v1.3.2 in .cache/age/bin): ${(err as Error).message}`, { cause: err });
    }
    return { bin, work: await scratchDir('age-interop') };
  })();
  return built;
}

/** A key pair from `age-keygen -o`: the key file's path and its recipient. */
async function ageKeygen(bin: string, work: string, name: string): Promise<{ keyFile: string; recipient: string }> {
  const keyFile = join(work, `${name}.txt`);
  await runCommand([join(bin, 'age-keygen'), '-o', keyFile]);
  const recipient = (await runCommand([join(bin, 'age-keygen'), '-y', keyFile])).stdout.trim();
  return { keyFile, recipient };
}

/** A key pair from generateIdentity, written as age-keygen would. */
async function ourKeygen(work: string, name: string): Promise<{ keyFile: string; recipient: string }> {
  const id = generateIdentity();
  const keyFile = join(work, `${name}.txt`);
  await writeFile(keyFile, formatIdentityFile(id), { mode: 0o600 });
  return { keyFile, recipient: id.recipient.toString() };
}

for (const keys of ['age-keygen', 'generateIdentity'] as const) {
  for (const size of SIZES) {
    test(`${size} bytes, keys from ${keys}: ours encrypts, age -d -i decrypts`, async () => {
      const { bin, work } = await reference();
      const name = `ours-to-age-${keys}-${size}`;
      const key = keys === 'age-keygen' ? await ageKeygen(bin, work, name) : await ourKeygen(work, name);
      const plain = randomBytes(size);
      const file = join(work, `${name}.age`);
      await writeFile(file, encrypt([key.recipient], plain));
      const out = join(work, `${name}.out`);
      await runCommand([join(bin, 'age'), '-d', '-i', key.keyFile, '-o', out, file]);
      assert.ok((await readFile(out)).equals(plain), 'age decrypted the same bytes');
    });

    test(`${size} bytes, keys from ${keys}: age -e -r encrypts, ours decrypts`, async () => {
      const { bin, work } = await reference();
      const name = `age-to-ours-${keys}-${size}`;
      const key = keys === 'age-keygen' ? await ageKeygen(bin, work, name) : await ourKeygen(work, name);
      const plain = randomBytes(size);
      const input = join(work, `${name}.in`);
      await writeFile(input, plain);
      const file = join(work, `${name}.age`);
      await runCommand([join(bin, 'age'), '-e', '-r', key.recipient, '-o', file, input]);
      const identities = parseIdentityFile(await readFile(key.keyFile, 'utf8'));
      assert.ok(decrypt(identities, await readFile(file)).equals(plain), 'we decrypted the same bytes');
    });
  }
}

test('age-keygen -y and our parser agree on the recipient of an age-keygen key', async () => {
  const { bin, work } = await reference();
  const key = await ageKeygen(bin, work, 'recipient-agree');
  const [id] = parseIdentityFile(await readFile(key.keyFile, 'utf8'));
  assert.is(id.recipient.toString(), key.recipient);
});

test('a sealed set key opens with age -d -i, and the identity it holds opens a file of the set with age -d -i', async () => {
  const { bin, work } = await reference();
  const ops = await ageKeygen(bin, work, 'set-key-ops');
  const recovery = await ourKeygen(work, 'set-key-recovery');
  const key = makeSetKey([ops.recipient, recovery.recipient]);
  const sealed = join(work, 'set-key.age');
  await writeFile(sealed, key.sealed);
  const plain = randomBytes(200 * 1024);
  const data = join(work, 'set-key-table.tbz.age');
  await writeFile(data, encrypt([key.recipient], plain));
  for (const who of [ops, recovery]) {
    // What an operator restoring by hand runs: unseal the set key, then decrypt with it.
    const setKeyFile = join(work, `set-key-of-${who === ops ? 'ops' : 'recovery'}.txt`);
    await runCommand([join(bin, 'age'), '-d', '-i', who.keyFile, '-o', setKeyFile, sealed]);
    assert.is((await runCommand([join(bin, 'age-keygen'), '-y', setKeyFile])).stdout.trim(), key.recipient);
    const out = join(work, `set-key-table-${who === ops ? 'ops' : 'recovery'}.out`);
    await runCommand([join(bin, 'age'), '-d', '-i', setKeyFile, '-o', out, data]);
    assert.ok((await readFile(out)).equals(plain), 'age decrypted the set\'s file with the unsealed set key');
  }
});

test.run();
