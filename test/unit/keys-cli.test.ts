/**
 * `tandem keys` as an operator runs it (the compiled CLI, spawned): init makes a 0600 identity
 * and prints its recipient, list shows which sets differ from the fleet's recipients, rotate
 * --dry-run changes nothing, rotate reseals, and a readable identity file or a missing one stops
 * it before anything is written.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeSetKey, openSetKey, readSetKey, writeSetKey } from '../../coordinator/keys';
import { generateIdentity } from '../../shared/age';
import { LocalDestination } from '../../shared/destination';
import { runCommand } from '../../shared/exec';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { signingKeyAt, writeSigningKeySync } from '../helpers/signing';

const CLI = join(__dirname, '..', '..', 'coordinator', 'main.js');
const root = scratchDirSync('keys-cli');
test.after(() => removeScratch(root));

/** Runs `tandem keys …`; its exit code and output. */
async function tandem(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand([process.execPath, CLI, 'keys', ...args], { okCodes: [0, 1, 2, 3] });
  return { code: r.exitCode, out: r.stdout, err: r.stderr };
}

test('init, list, rotate --dry-run, rotate, list again', async () => {
  const init = await tandem('init', '--dir', join(root, 'ops'));
  assert.is(init.code, 0, init.err);
  const recipient = init.out.trim();
  assert.match(recipient, /^age1[a-z0-9]{58}$/);
  const identityFile = join(root, 'ops', 'age-identity.txt');
  assert.is(statSync(identityFile).mode & 0o777, 0o600);

  const dir = join(root, 'dest');
  mkdirSync(dir);
  const dest = new LocalDestination({ type: 'local', path: dir });
  const old = generateIdentity();
  const recovery = generateIdentity().recipient.toString();
  const ids = ['tandem-20261201t100000z-aaaaaa', 'tandem-20261202t100000z-bbbbbb'];
  const signingFile = writeSigningKeySync(join(root, 'keys')).key;
  const signing = signingKeyAt(signingFile);
  const trusted = new Map([[signing.keyId, signing.publicKey]]);
  await writeSetKey(dest, ids[0], makeSetKey([old.recipient.toString(), recovery]).sealed, [old.recipient.toString(), recovery], signing);
  await writeSetKey(dest, ids[1], makeSetKey([recipient, recovery]).sealed, [recipient, recovery], signing);
  await dest.writeAtomic('tandem-20261203t100000z-cccccc/manifest.json', '{}');
  const fleet = join(root, 'fleet.yaml');
  // The old identity opens the first set, the new one the second: one identity file holding both, as during a change.
  const both = join(root, 'both.txt');
  writeFileSync(both, `${old.toString()}\n${readFileSync(identityFile, 'utf8')}`, { mode: 0o600 });
  writeFileSync(fleet, `agents: [{node: n1, address: "127.0.0.1:1", roles: [cassandra]}]\ndestination: {type: local, path: ${dir}}\nsigning: {key: ${signingFile}}\nencryption: {mode: age, recipients: [${recipient}, ${recovery}], identity: ${both}}\n`);

  const list = await tandem('list', '--config', fleet, '--json');
  assert.is(list.code, 0, list.err);
  const listed = JSON.parse(list.out);
  assert.equal(listed.recipients, [recipient, recovery]);
  assert.equal(listed.backupSets.map((s: { current: boolean | null }) => s.current), [false, true, null]);
  const text = await tandem('list', '--config', fleet);
  assert.ok(text.out.includes(`${ids[0]}  sealed to ${old.recipient.toString()}, ${recovery} (rotate: +${recipient} -${old.recipient.toString()})`), text.out);

  const dry = await tandem('rotate', '--config', fleet, '--dry-run');
  assert.is(dry.code, 0, dry.err);
  assert.match(dry.out, new RegExp(`${ids[0]}  would reseal: \\+${recipient} -${old.recipient.toString()}`));
  assert.match(dry.out, /1 would be resealed, 1 already current, 1 not encrypted, 0 failed/);
  const unchanged = await readSetKey(dest, ids[0], trusted);
  assert.ok(unchanged.state === 'sealed' && unchanged.info?.recipients.includes(old.recipient.toString()));

  const rotate = await tandem('rotate', '--config', fleet);
  assert.is(rotate.code, 0, rotate.err);
  assert.match(rotate.out, /1 resealed, 1 already current, 1 not encrypted, 0 failed/);
  const s = await readSetKey(dest, ids[0], trusted);
  assert.ok(s.state === 'sealed' && s.matches);
  if (s.state === 'sealed') assert.throws(() => openSetKey(s.sealed, [old]), /none of the identities/);
  const after = JSON.parse((await tandem('list', '--config', fleet, '--json')).out);
  assert.equal(after.backupSets.map((x: { current: boolean | null }) => x.current), [true, true, null]);

  // An identity file others can read stops rotate before it reads the destination.
  chmodSync(both, 0o644);
  const refused = await tandem('rotate', '--config', fleet, '--all');
  assert.is(refused.code, 1);
  assert.match(refused.err, new RegExp(`chmod 600 ${both}`));
  // Without an identity, rotate says where to give one.
  writeFileSync(fleet, `agents: [{node: n1, address: "127.0.0.1:1", roles: [cassandra]}]\ndestination: {type: local, path: ${dir}}\nsigning: {key: ${signingFile}}\nencryption: {mode: age, recipients: [${recipient}]}\n`);
  const none = await tandem('rotate', '--config', fleet);
  assert.is(none.code, 2);
  assert.match(none.err, /give --identity FILE, or set encryption.identity/);
  // Flags of another action are refused, and so is an unknown action.
  assert.is((await tandem('list', '--config', fleet, '--dry-run')).code, 2);
  assert.is((await tandem('add')).code, 2);
});

test('init never replaces an identity file', async () => {
  const dir = join(root, 'twice');
  assert.is((await tandem('init', '--dir', dir)).code, 0);
  const again = await tandem('init', '--dir', dir);
  assert.is(again.code, 1);
  assert.match(again.err, /exists: it may be the only copy/);
});

test.run();
