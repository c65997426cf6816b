/**
 * Signed files at an untrusted destination: the coordinator signs the files that decide what a
 * set is (its manifest, its pruned marker) with an Ed25519 key that agents do not hold, and every
 * reader checks that signature before it believes the file. What is signed is the file's exact
 * bytes as written, so no JSON canonicalisation is needed: a reader verifies the bytes it read
 * and only then parses them.
 *
 * A signature file `<file-stem>.sig` beside the signed file:
 * `{"format":"tandem.signature/v1","keyId","file","sha256","signature"}` (signature in base64).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Destination } from './destination';
import { TandemError, ValidationError } from './errors';

/** The signature file format this version writes and reads. */
export const SIGNATURE_FORMAT = 'tandem.signature/v1';
/** A signature file is never longer: a bigger one is refused unread, bytes. */
export const SIGNATURE_MAX_BYTES = 4096;
/** A manifest is never longer: a bigger one is refused unread (16 MiB, some 80,000 file entries), bytes. */
export const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;
/** A pruned marker is never longer (it names a few snapshots), bytes. */
export const MARKER_MAX_BYTES = 64 * 1024;

/** Ed25519's SubjectPublicKeyInfo DER is this 12-byte prefix followed by the raw 32-byte key. */
const SPKI_PREFIX_BYTES = 12;

/** A key id: the first 16 hex digits of the sha256 of the raw 32-byte public key. */
export const KEY_ID = /^[0-9a-f]{16}$/;

/** The coordinator's signing key with its public half and id. */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Public keys a reader trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/** The id of an Ed25519 public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der.subarray(SPKI_PREFIX_BYTES)).digest('hex').slice(0, 16);
}

/** A new key pair as PEM text (PKCS#8 private, SPKI public) with its key id. */
export function generateSigningKeyPair(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Parses a private key PEM; ValidationError naming `where` unless it is an Ed25519 private key. */
export function parseSigningKey(pem: string | Buffer, where: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new ValidationError(`${where} is not a PEM private key: create one with 'tandem certs signing --dir DIR'`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new ValidationError(`${where} is a ${privateKey.asymmetricKeyType} key, not Ed25519: create one with 'tandem certs signing --dir DIR'`);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/** Parses a public key PEM; ValidationError naming `where` unless it is an Ed25519 public key. */
export function parsePublicKey(pem: string | Buffer, where: string): KeyObject {
  // createPublicKey derives a public key from a private one: a private key here is a misplaced secret, refused.
  if (/PRIVATE KEY-----/.test(pem.toString())) throw new ValidationError(`${where} holds a private key: list the public key (signing.pub) in signing.trusted, never the private one`);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new ValidationError(`${where} is not a PEM public key (signing.pub as 'tandem certs signing' writes it)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ValidationError(`${where} is a ${key.asymmetricKeyType} key, not Ed25519`);
  return key;
}

/** A signature file as read back. */
const signatureFileSchema = z.strictObject({
  format: z.literal(SIGNATURE_FORMAT),
  keyId: z.string().regex(KEY_ID, 'must be 16 lowercase hex digits'),
  /** The signed file's name inside its set folder. */
  file: z.string().regex(/^[a-z][a-z0-9.-]{0,63}$/, 'must be a file name'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256'),
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 Ed25519 signature (64 bytes)'),
});

/** What a signature file says. */
export type SignatureFile = z.output<typeof signatureFileSchema>;

/** The signature file's text for `body`, the exact bytes of `file`. */
export function signatureFor(key: SigningKey, file: string, body: Buffer | string): string {
  const bytes = Buffer.from(body);
  const sig: SignatureFile = {
    format: SIGNATURE_FORMAT,
    keyId: key.keyId,
    file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    signature: sign(null, bytes, key.privateKey).toString('base64'),
  };
  return JSON.stringify(sig) + '\n';
}

/** Why a signed file is not believed. */
export type SignatureProblem = 'invalid-signature-file' | 'unknown-key' | 'bad-signature';

/** The outcome of checking a signature: the key that signed, or why not. */
export type SignatureVerdict = { ok: true; keyId: string } | { ok: false; reason: SignatureProblem; detail: string };

/**
 * Checks that `sigBody` (a signature file's bytes) signs `body` as `file` with one of `trusted`.
 * Never throws for what came from the destination: the verdict says what is wrong.
 */
export function checkSignature(sigBody: Buffer, file: string, body: Buffer, trusted: TrustedKeys): SignatureVerdict {
  let sig: SignatureFile;
  try {
    const r = signatureFileSchema.safeParse(JSON.parse(sigBody.toString()));
    if (!r.success) return { ok: false, reason: 'invalid-signature-file', detail: `${r.error.issues[0]?.path.join('.') || 'file'}: ${r.error.issues[0]?.message}` };
    sig = r.data;
  } catch {
    return { ok: false, reason: 'invalid-signature-file', detail: 'not JSON' };
  }
  if (sig.file !== file) return { ok: false, reason: 'invalid-signature-file', detail: `it signs ${JSON.stringify(sig.file)}, not ${file}` };
  const key = trusted.get(sig.keyId);
  if (!key) return { ok: false, reason: 'unknown-key', detail: `signed by key ${sig.keyId}, which signing.trusted does not list` };
  if (createHash('sha256').update(body).digest('hex') !== sig.sha256) return { ok: false, reason: 'bad-signature', detail: `${file} changed after it was signed (sha256 differs)` };
  if (!verify(null, body, key, Buffer.from(sig.signature, 'base64'))) return { ok: false, reason: 'bad-signature', detail: `the signature of key ${sig.keyId} does not check` };
  return { ok: true, keyId: sig.keyId };
}

/** A file at the destination larger than the fixed cap of what it is. */
export class OversizedError extends TandemError {}

/**
 * The whole content of a small file at the destination, refused unread when its stored size is
 * above `cap` and cut off at `cap` + 1 bytes while it is read (the size may change in between);
 * null when the file does not exist.
 */
export async function readCapped(dest: Destination, path: string, cap: number): Promise<Buffer | null> {
  const st = await dest.stat(path);
  if (!st) return null;
  if (st.size > cap) throw new OversizedError(`${path} is ${st.size} bytes, more than the ${cap} a ${path.slice(path.lastIndexOf('/') + 1)} may hold: it was not read`);
  const chunks: Buffer[] = [];
  let n = 0;
  const stream = await dest.get(path);
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > cap) {
      stream.destroy();
      throw new OversizedError(`${path} grew beyond ${cap} bytes while it was read: it was not used`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
