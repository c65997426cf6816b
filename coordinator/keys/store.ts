/**
 * Set keys at the destination: writing set-key.age, set-key.json and set-key.sig (the
 * coordinator's signature of set-key.json), each atomically, and reading them back as input from
 * the network, size, shape, digest and signature checked. set-key.age needs no signature of its
 * own: the identity it opens to is checked against the recipient the signed manifest records.
 * set-key.json does: it is what `tandem keys` and a rotation believe about who can open a set.
 */
import type { X25519Identity } from '../../shared/age';
import { readAll, type Destination } from '../../shared/destination';
import { errorMessage } from '../../shared/errors';
import { BACKUP_ID } from '../../shared/names';
import { sha256Of } from '../../shared/parts/io';
import { runPool } from '../../shared/pool';
import { parseJson } from '../../shared/parts/io';
import { SetKeyError } from './errors';
import { openSetKey } from './set-key';
import { SET_KEY_INFO_FILE, setKeyInfoPath, setKeyPath, setKeySigPath } from '../../shared/destination/layout';
import { checkSignature, readCapped, signatureFor, SIGNATURE_MAX_BYTES, type SigningKey, type TrustedKeys } from '../../shared/signing';
import { SET_KEY_FORMAT, SET_KEY_MAX_BYTES, setKeyInfoSchema, type SetKeyInfo } from './layout';

/**
 * What a set folder holds of a set key:
 * - `clear`: neither file; the set was written without encryption.
 * - `sealed`: set-key.age, with `info` when set-key.json reads and `matches` when its sha256 is
 *   that of set-key.age and set-key.sig signs it with a trusted key (false: a rotation stopped
 *   between the writes, or set-key.json was altered or planted; `info` is then only a hint).
 * - `damaged`: set-key.age is missing or cannot be a set key; `problem` says why.
 */
export type SetKeyState =
  | { id: string; state: 'clear' }
  | { id: string; state: 'sealed'; sealed: Buffer; info: SetKeyInfo | null; matches: boolean; problem?: string }
  | { id: string; state: 'damaged'; problem: string };

/** How many set folders are read at once: a remote destination answers each in a round trip. */
const READ_PARALLELISM = 8;

/** The content of set-key.json for `sealed`, sealed to `recipients`. */
export function setKeyInfo(sealed: Buffer, recipients: readonly string[]): string {
  const info: SetKeyInfo = { format: SET_KEY_FORMAT, recipients: [...recipients], sha256: sha256Of(sealed) };
  return JSON.stringify(info, null, 2) + '\n';
}

/**
 * Writes the set key of `id`: set-key.age first, then set-key.json, then set-key.sig, each through
 * a temporary name and a rename (writeAtomic). Each file is whole, old or new; a stop between two
 * writes leaves a pair that does not check (sha256 or signature), which `tandem keys rotate` finishes.
 */
export async function writeSetKey(dest: Destination, id: string, sealed: Buffer, recipients: readonly string[], signingKey: SigningKey): Promise<void> {
  const info = setKeyInfo(sealed, recipients);
  await dest.writeAtomic(setKeyPath(id), sealed);
  await dest.writeAtomic(setKeyInfoPath(id), info);
  await dest.writeAtomic(setKeySigPath(id), signatureFor(signingKey, SET_KEY_INFO_FILE, signedBytes(id, info)));
}

/** Reads the set key of backup set `id`, set-key.json checked with `trusted`. Never throws for what the folder holds: that is the state. */
export async function readSetKey(dest: Destination, id: string, trusted: TrustedKeys): Promise<SetKeyState> {
  const [age, json] = await Promise.all([dest.stat(setKeyPath(id)), dest.stat(setKeyInfoPath(id))]);
  if (!age && !json) return { id, state: 'clear' };
  if (!age) return { id, state: 'damaged', problem: `${setKeyInfoPath(id)} is there but ${setKeyPath(id)} is not: the set's files cannot be decrypted` };
  if (age.size > SET_KEY_MAX_BYTES) return { id, state: 'damaged', problem: `${setKeyPath(id)} is ${age.size} bytes, more than a set key can be (${SET_KEY_MAX_BYTES})` };
  const sealed = await readAll(dest, setKeyPath(id));
  if (sealed.length > SET_KEY_MAX_BYTES) return { id, state: 'damaged', problem: `${setKeyPath(id)} grew past ${SET_KEY_MAX_BYTES} bytes while it was read` };
  if (!json) return { id, state: 'sealed', sealed, info: null, matches: false, problem: `${setKeyInfoPath(id)} is missing` };
  if (json.size > SET_KEY_MAX_BYTES) return { id, state: 'sealed', sealed, info: null, matches: false, problem: `${setKeyInfoPath(id)} is ${json.size} bytes, more than it can be` };
  try {
    const body = await readAll(dest, setKeyInfoPath(id));
    const info = parseJson(body, setKeyInfoSchema, setKeyInfoPath(id), 'set key description');
    if (info.sha256 !== sha256Of(sealed)) return { id, state: 'sealed', sealed, info, matches: false, problem: `${setKeyInfoPath(id)} describes another ${setKeyPath(id)} (its sha256 differs): a rotation stopped between the two writes` };
    const unsigned = await signatureProblem(dest, id, body, trusted);
    return unsigned ? { id, state: 'sealed', sealed, info, matches: false, problem: unsigned } : { id, state: 'sealed', sealed, info, matches: true };
  } catch (err) {
    return { id, state: 'sealed', sealed, info: null, matches: false, problem: errorMessage(err) };
  }
}

/**
 * What set-key.sig signs: set-key.json prefixed with its set's id, so that a signed pair copied
 * into another set's folder is not believed there.
 */
const signedBytes = (id: string, info: Buffer | string): Buffer => Buffer.concat([Buffer.from(`tandem set key of ${id}\n`), Buffer.from(info)]);

/** Why set-key.json of `id` is not believed (no signature, a bad one, an unknown key), or null when a trusted key signed it. */
async function signatureProblem(dest: Destination, id: string, body: Buffer, trusted: TrustedKeys): Promise<string | null> {
  const sig = await readCapped(dest, setKeySigPath(id), SIGNATURE_MAX_BYTES);
  if (!sig) return `${setKeySigPath(id)} is missing: ${setKeyInfoPath(id)} is not signed (written before set keys were signed, or a rotation stopped before its last write)`;
  const v = checkSignature(sig, SET_KEY_INFO_FILE, signedBytes(id, body), trusted);
  return v.ok ? null : `${setKeyInfoPath(id)} is not believed (${v.reason}: ${v.detail})`;
}

/** The set key of every backup set folder at the destination (pruned ones too: their files still serve later sets), sorted by id. */
export async function readSetKeys(dest: Destination, trusted: TrustedKeys, signal?: AbortSignal): Promise<SetKeyState[]> {
  const ids = (await dest.folders('')).filter((id) => BACKUP_ID.test(id));
  return runPool(ids, READ_PARALLELISM, signal, (id) => readSetKey(dest, id, trusted));
}

/**
 * The identity of backup set `id`, read from the destination and opened with `identities`: what
 * verify of content, restore and drill need. SetKeyError when the set is not encrypted or its key
 * is damaged; SetKeyNoMatchError naming the recipients set-key.json records when none opens it.
 */
export async function openStoredSetKey(dest: Destination, id: string, identities: readonly X25519Identity[]): Promise<X25519Identity> {
  // Opening needs no belief in set-key.json (its recipients only word a refusal): what the key opens to is checked by the caller against the signed manifest.
  const s = await readSetKey(dest, id, new Map());
  if (s.state === 'clear') throw new SetKeyError(`backup set ${id} has no set key (${setKeyPath(id)}): it was written without encryption`, { backupId: id });
  if (s.state === 'damaged') throw new SetKeyError(`the set key of backup set ${id} is damaged: ${s.problem}`, { backupId: id });
  return openSetKey(s.sealed, identities, { id, writtenFor: s.info?.recipients });
}
