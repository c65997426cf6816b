/**
 * The X25519 recipient type: wrapping a file key into an `-> X25519 <share>` stanza for a
 * recipient, and opening such a stanza with an identity (age spec, "The X25519 recipient type").
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeBase64 } from './base64';
import { bech32Encode } from './bech32';
import { AgeHeaderError } from './errors';
import type { Stanza } from './header';
import { hkdf, open, seal, x25519, x25519PrivateKey, x25519RawPrivate, x25519RawPublic } from './primitives';

/** The human-readable parts of the Bech32 encodings. */
export const RECIPIENT_HRP = 'age';
export const IDENTITY_HRP = 'age-secret-key-';

const STANZA_TYPE = 'X25519';
const WRAP_INFO = 'age-encryption.org/v1/X25519';
const ZERO_NONCE = Buffer.alloc(12);
const FILE_KEY_SIZE = 16;

/** An age1… public key: anyone holding it can encrypt to its identity. */
export class X25519Recipient {
  private constructor(readonly publicKey: Buffer) {}

  /** The recipient of the 32 raw bytes of an X25519 public key. */
  static fromRaw(publicKey: Uint8Array): X25519Recipient {
    if (publicKey.length !== 32) throw new RangeError(`an X25519 public key is 32 bytes, not ${publicKey.length}`);
    return new X25519Recipient(Buffer.from(publicKey));
  }

  /** Wraps `fileKey` for this recipient with a fresh ephemeral key (never reused across stanzas or files). */
  wrap(fileKey: Uint8Array): Stanza {
    const ephemeral = generateKeyPairSync('x25519').privateKey;
    const share = x25519RawPublic(ephemeral);
    const shared = x25519(ephemeral, this.publicKey);
    // Only a low-order recipient key gives zeros; a parsed age1… can be one, so say which key.
    if (!shared) throw new AgeHeaderError(`recipient ${this.toString()} is a low-order X25519 point: it cannot receive files; use a key made by age-keygen or generateIdentity()`);
    const wrapKey = hkdf(shared, Buffer.concat([share, this.publicKey]), WRAP_INFO);
    return { type: STANZA_TYPE, args: [encodeBase64(share)], body: seal(wrapKey, ZERO_NONCE, fileKey) };
  }

  /** The age1… text. */
  toString(): string {
    return bech32Encode(RECIPIENT_HRP, this.publicKey);
  }
}

/** An AGE-SECRET-KEY-1… private key: it opens the stanzas wrapped for its recipient. */
export class X25519Identity {
  readonly recipient: X25519Recipient;

  private constructor(private readonly privateKey: KeyObject) {
    this.recipient = X25519Recipient.fromRaw(x25519RawPublic(privateKey));
  }

  /** A new identity from the CSPRNG. */
  static generate(): X25519Identity {
    return new X25519Identity(generateKeyPairSync('x25519').privateKey);
  }

  /** The identity of the 32 raw bytes of an X25519 private key. */
  static fromRaw(privateKey: Uint8Array): X25519Identity {
    if (privateKey.length !== 32) throw new RangeError(`an X25519 private key is 32 bytes, not ${privateKey.length}`);
    return new X25519Identity(x25519PrivateKey(privateKey));
  }

  /**
   * The file key in `stanza`, or null when the stanza is not for this identity (another type, or
   * wrapped for another key). Throws AgeHeaderError when an X25519 stanza breaks the format's rules.
   */
  unwrap(stanza: Stanza): Buffer | null {
    if (stanza.type !== STANZA_TYPE) return null;
    if (stanza.args.length !== 1) throw new AgeHeaderError(`an X25519 stanza has exactly one argument after its type, this one has ${stanza.args.length}: the header is malformed`);
    const share = decodeBase64(stanza.args[0]);
    if (!share || share.length !== 32) throw new AgeHeaderError('an X25519 stanza\'s share is not the canonical base64 of 32 bytes: the header is malformed');
    // Checked before decrypting, so that a longer body cannot probe several keys at once.
    if (stanza.body.length !== FILE_KEY_SIZE + 16) throw new AgeHeaderError(`an X25519 stanza's body is 32 bytes, this one is ${stanza.body.length}: the header is malformed`);
    const shared = x25519(this.privateKey, share);
    if (!shared) throw new AgeHeaderError('an X25519 stanza\'s share is a low-order point: the header is malformed or forged');
    const wrapKey = hkdf(shared, Buffer.concat([share, this.recipient.publicKey]), WRAP_INFO);
    return open(wrapKey, ZERO_NONCE, stanza.body);
  }

  /** The AGE-SECRET-KEY-1… text: a secret, never to be logged. */
  toString(): string {
    return bech32Encode(IDENTITY_HRP, x25519RawPrivate(this.privateKey), true);
  }
}
