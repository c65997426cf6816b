/**
 * The primitives age is built on, all from node:crypto (OpenSSL): HKDF-SHA-256, HMAC-SHA-256,
 * ChaCha20-Poly1305 and X25519. No third-party cryptography.
 */
import { createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';

/** The DER a raw X25519 key is wrapped in, so that OpenSSL takes it as a KeyObject (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** Bytes of a ChaCha20-Poly1305 tag. */
export const TAG_SIZE = 16;

/** HKDF-SHA-256 (extract then expand) to 32 bytes. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

/** HMAC-SHA-256 of `data` under `key`. */
export function hmac(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** ChaCha20-Poly1305 of `plaintext`: the ciphertext with its 16-byte tag appended. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()], body.length + TAG_SIZE);
}

/** Opens ChaCha20-Poly1305 `sealed` (ciphertext then tag); null when it is shorter than a tag or does not authenticate. */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG_SIZE) return null;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const body = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return body;
}

/** An X25519 private key from its 32 raw bytes. */
export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** An X25519 public key from its 32 raw bytes. */
export function x25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The 32 raw bytes of the public key of an X25519 private key (the scalar times the base point). */
export function x25519RawPublic(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

/** The 32 raw bytes of an X25519 private key. */
export function x25519RawPrivate(privateKey: KeyObject): Buffer {
  return privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
}

/**
 * X25519(privateKey, publicRaw), or null when the result is all zeros (a low-order share, which
 * the format requires refusing; OpenSSL refuses it too and throws).
 */
export function x25519(privateKey: KeyObject, publicRaw: Uint8Array): Buffer | null {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: x25519PublicKey(publicRaw) });
  } catch {
    return null;
  }
  return shared.every((b) => b === 0) ? null : shared;
}
