/**
 * Set keys at the destination: writing the pair (set-key.age, then set-key.json, each atomically)
 * and reading it back as input from the network, size, shape and digest checked.
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
import { setKeyInfoPath, setKeyPath } from '../../shared/destination/layout';
import { SET_KEY_FORMAT, SET_KEY_MAX_BYTES, setKeyInfoSchema, type SetKeyInfo } from './layout';

/**
 * What a set folder holds of a set key:
 * - `clear`: neither file; the set was written without encryption.
 * - `sealed`: set-key.age, with `info` when set-key.json reads and `matches` when its sha256 is
 *   that of set-key.age (false: a rotation stopped between the two writes, or json was altered).
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
 * Writes the set key of `id`: set-key.age first, then set-key.json, each through a temporary name
 * and a rename (writeAtomic). Each file is whole, old or new; a stop between the two leaves a new
 * set-key.age beside an old set-key.json, which its sha256 tells apart and `tandem keys rotate` finishes.
 */
export async function writeSetKey(dest: Destination, id: string, sealed: Buffer, recipients: readonly string[]): Promise<void> {
  await dest.writeAtomic(setKeyPath(id), sealed);
  await dest.writeAtomic(setKeyInfoPath(id), setKeyInfo(sealed, recipients));
}

/** Reads the set key of backup set `id`. Never throws for what the folder holds: that is the state. */
export async function readSetKey(dest: Destination, id: string): Promise<SetKeyState> {
  const [age, json] = await Promise.all([dest.stat(setKeyPath(id)), dest.stat(setKeyInfoPath(id))]);
  if (!age && !json) return { id, state: 'clear' };
  if (!age) return { id, state: 'damaged', problem: `${setKeyInfoPath(id)} is there but ${setKeyPath(id)} is not: the set's files cannot be decrypted` };
  if (age.size > SET_KEY_MAX_BYTES) return { id, state: 'damaged', problem: `${setKeyPath(id)} is ${age.size} bytes, more than a set key can be (${SET_KEY_MAX_BYTES})` };
  const sealed = await readAll(dest, setKeyPath(id));
  if (sealed.length > SET_KEY_MAX_BYTES) return { id, state: 'damaged', problem: `${setKeyPath(id)} grew past ${SET_KEY_MAX_BYTES} bytes while it was read` };
  if (!json) return { id, state: 'sealed', sealed, info: null, matches: false, problem: `${setKeyInfoPath(id)} is missing` };
  if (json.size > SET_KEY_MAX_BYTES) return { id, state: 'sealed', sealed, info: null, matches: false, problem: `${setKeyInfoPath(id)} is ${json.size} bytes, more than it can be` };
  try {
    const info = parseJson(await readAll(dest, setKeyInfoPath(id)), setKeyInfoSchema, setKeyInfoPath(id), 'set key description');
    const matches = info.sha256 === sha256Of(sealed);
    return matches ? { id, state: 'sealed', sealed, info, matches } : { id, state: 'sealed', sealed, info, matches, problem: `${setKeyInfoPath(id)} describes another ${setKeyPath(id)} (its sha256 differs): a rotation stopped between the two writes` };
  } catch (err) {
    return { id, state: 'sealed', sealed, info: null, matches: false, problem: errorMessage(err) };
  }
}

/** The set key of every backup set folder at the destination (pruned ones too: their files still serve later sets), sorted by id. */
export async function readSetKeys(dest: Destination, signal?: AbortSignal): Promise<SetKeyState[]> {
  const ids = (await dest.folders('')).filter((id) => BACKUP_ID.test(id));
  return runPool(ids, READ_PARALLELISM, signal, (id) => readSetKey(dest, id));
}

/**
 * The identity of backup set `id`, read from the destination and opened with `identities`: what
 * verify of content, restore and drill need. SetKeyError when the set is not encrypted or its key
 * is damaged; SetKeyNoMatchError naming the recipients set-key.json records when none opens it.
 */
export async function openStoredSetKey(dest: Destination, id: string, identities: readonly X25519Identity[]): Promise<X25519Identity> {
  const s = await readSetKey(dest, id);
  if (s.state === 'clear') throw new SetKeyError(`backup set ${id} has no set key (${setKeyPath(id)}): it was written without encryption`, { backupId: id });
  if (s.state === 'damaged') throw new SetKeyError(`the set key of backup set ${id} is damaged: ${s.problem}`, { backupId: id });
  return openSetKey(s.sealed, identities, { id, writtenFor: s.info?.recipients });
}
