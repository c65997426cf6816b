/**
 * The base64 of age headers: standard alphabet, no `=` padding, and only canonical encodings
 * (unused low bits zero). Node's decoder accepts padding, other alphabets and junk, so every
 * string is checked before it is decoded.
 */

const ALPHABET = /^[A-Za-z0-9+/]*$/;

/** Encodes `bytes` as unpadded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/** Decodes unpadded canonical base64, or returns null for anything else (padding, other characters, stray bits). */
export function decodeBase64(text: string): Buffer | null {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64');
  // Canonical: the only encoding of these bytes (the unused bits of the last character are zero).
  return encodeBase64(bytes) === text ? bytes : null;
}
