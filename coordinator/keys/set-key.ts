/**
 * A backup set's own key: a fresh X25519 identity per set, whose recipient the agents encrypt
 * every file of the set to, and which is stored sealed (age-encrypted) to the fleet's recipients.
 * Agents see only the recipient, so a node cannot read back any set; changing the fleet's keys
 * reseals one small file per set and leaves the data as it is.
 */
import { AgeNoMatchError, AgeError, decrypt, encrypt, formatIdentityFile, generateIdentity, parseIdentityFile, type X25519Identity } from '../../shared/age';
import { errorMessage } from '../../shared/errors';
import { SetKeyError, SetKeyNoMatchError } from './errors';
import { SET_KEY_MAX_BYTES } from './layout';

/** A new set key: the identity (a secret, kept in memory only), its recipient for the agents, and the identity sealed to the fleet. */
export interface SetKey {
  identity: X25519Identity;
  /** age1… text the agents encrypt the set's files to. */
  recipient: string;
  /** The identity file of `identity`, age-encrypted to the fleet's recipients: the content of set-key.age. */
  sealed: Buffer;
}

/** A fresh set key sealed to `recipients` (age1… texts, at least one). */
export function makeSetKey(recipients: readonly string[]): SetKey {
  const identity = generateIdentity();
  return { identity, recipient: identity.recipient.toString(), sealed: seal(identity, recipients) };
}

/** The identity file of `identity`, encrypted to `recipients`: `age -d -i KEY set-key.age` prints it. */
function seal(identity: X25519Identity, recipients: readonly string[]): Buffer {
  return encrypt(recipients, Buffer.from(formatIdentityFile(identity)));
}

/** Where a sealed key comes from and who it was written for, for messages. */
export interface SealedContext {
  /** The backup set's id. */
  id?: string;
  /** The recipients set-key.json says it is sealed to (not authenticated until the signed manifest covers it). */
  writtenFor?: readonly string[];
}

/**
 * The set's identity from its sealed key, opened by any of `identities`. SetKeyNoMatchError names
 * the recipients it was written for when none matches; SetKeyError when it is damaged or altered.
 */
export function openSetKey(sealed: Buffer, identities: readonly X25519Identity[], context: SealedContext = {}): X25519Identity {
  return openSealed(sealed, identities, context).identity;
}

/** The identity and the identity file it was sealed as. */
function openSealed(sealed: Buffer, identities: readonly X25519Identity[], context: SealedContext): { identity: X25519Identity; plain: Buffer } {
  const what = context.id ? `the set key of backup set ${context.id}` : 'the set key';
  if (sealed.length > SET_KEY_MAX_BYTES) throw new SetKeyError(`${what} is ${sealed.length} bytes, more than a set key can be (${SET_KEY_MAX_BYTES}): the set is damaged`, { backupId: context.id });
  let plain: Buffer;
  try {
    plain = decrypt(identities, sealed);
  } catch (err) {
    if (err instanceof AgeNoMatchError) {
      const given = identities.map((i) => i.recipient.toString()).join(', ');
      const sealedTo = context.writtenFor?.length ? `it is sealed to ${context.writtenFor.join(', ')}` : 'set-key.json, which names its recipients, is missing';
      throw new SetKeyNoMatchError(`none of the identities given (of ${given}) opens ${what}: ${sealedTo}; give --identity FILE holding the identity of one of them`, { backupId: context.id, recipients: context.writtenFor }, { cause: err });
    }
    if (err instanceof AgeError) throw new SetKeyError(`${what} does not decrypt (${errorMessage(err)}): the set is damaged or was altered`, { backupId: context.id }, { cause: err });
    throw err;
  }
  let keys: X25519Identity[];
  try {
    keys = parseIdentityFile(plain.toString('utf8'), what);
  } catch (err) {
    throw new SetKeyError(`${what} decrypts but does not hold an age identity (${errorMessage(err)}): the set is damaged or was not written by tandem`, { backupId: context.id }, { cause: err });
  }
  if (keys.length !== 1) throw new SetKeyError(`${what} holds ${keys.length} identities, not one: it was not written by tandem`, { backupId: context.id });
  return { identity: keys[0], plain };
}

/**
 * The set key `sealed`, opened by `identities` and sealed again to `recipients`: what a rotation
 * writes. The identity file inside is the same, byte for byte (its creation time included).
 */
export function reseal(sealed: Buffer, identities: readonly X25519Identity[], recipients: readonly string[], context: SealedContext = {}): Buffer {
  return encrypt(recipients, openSealed(sealed, identities, context).plain);
}

/** True when two recipient lists hold the same keys, in any order. */
export function sameRecipients(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  return x.size === new Set(b).size && b.every((r) => x.has(r));
}
