/**
 * The data key of an encrypted capture, as sets have theirs: the agent makes an age identity,
 * stores it at the destination sealed to the fleet's recipients (`keys/<key id>.age`), keeps only
 * its recipient, and encrypts every piece to that recipient. The agent cannot read back what it
 * captured; a key rotation reseals the small key files and rewrites no piece.
 *
 * A key file needs no signature of its own: every signed index line names the key id its piece
 * was encrypted to, and the id is the digest of the key's recipient, so a reader believes a
 * decrypted key only when its recipient has the id the line names. A planted key file decrypts to
 * a key of another id and is refused.
 */
import { createHash } from 'node:crypto';
import { decrypt, parseIdentityFile, type IdentityInput, type X25519Identity } from '../age';
import type { Destination } from '../destination';
import { captureKeyPath } from '../destination/layout';
import { ValidationError } from '../errors';

/** A sealed key file is never larger: an identity and one stanza per recipient. */
export const CAPTURE_KEY_MAX_BYTES = 64 * 1024;

/** The id of a capture key: the first 32 hex digits of the sha256 of its recipient (age1…). */
export const captureKeyId = (recipient: string): string => createHash('sha256').update(recipient).digest('hex').slice(0, 32);

/** Opens capture keys of one node with the operator's identities; each key read once. */
export class CaptureKeys {
  private readonly opened = new Map<string, X25519Identity>();

  constructor(private readonly dest: Destination, private readonly identities: readonly IdentityInput[]) {}

  /** The identity of key `keyId` of `node`'s capture; ValidationError when it is missing, sealed to other recipients, or not the key the id names. */
  async identity(cluster: string, node: string, keyId: string): Promise<X25519Identity> {
    const k = `${cluster}/${node}/${keyId}`;
    const known = this.opened.get(k);
    if (known) return known;
    if (!this.identities.length) throw new ValidationError(`${node}'s capture is encrypted: give the identity of one of the fleet's recipients (--identity FILE, or encryption.identity in the fleet file)`);
    const path = captureKeyPath(cluster, node, keyId);
    const sealed = await this.dest.readSmall(path, CAPTURE_KEY_MAX_BYTES);
    let keys: X25519Identity[];
    try {
      keys = parseIdentityFile(decrypt(this.identities, sealed).toString('utf8'), path);
    } catch (err) {
      throw new ValidationError(`${path}: the capture's data key does not open with the identity given (${(err as Error).message})`);
    }
    const key = keys.length === 1 ? keys[0] : undefined;
    if (!key || captureKeyId(key.recipient.toString()) !== keyId) throw new ValidationError(`${path} does not hold the key its id names: it was replaced at the destination`);
    this.opened.set(k, key);
    return key;
  }
}
