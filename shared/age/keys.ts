/**
 * age keys as text: parsing age1… recipients and AGE-SECRET-KEY-1… identities, key files as
 * age-keygen writes them (comments and blank lines allowed), and writing a new key file.
 */
import { bech32Decode } from './bech32';
import { AgeKeyError } from './errors';
import { IDENTITY_HRP, RECIPIENT_HRP, X25519Identity, X25519Recipient } from './x25519';

/** A key file is small: a larger one is not a key file. Bytes. */
const KEY_FILE_MAX_BYTES = 1 << 20;

/** A new identity from the CSPRNG. */
export function generateIdentity(): X25519Identity {
  return X25519Identity.generate();
}

/** The recipient of an identity: what to give to whoever encrypts for it. */
export function recipientOf(identity: X25519Identity): X25519Recipient {
  return identity.recipient;
}

/** Parses an age1… recipient. Throws AgeKeyError saying what is wrong. */
export function parseRecipient(text: string): X25519Recipient {
  const decoded = bech32Decode(text);
  if (!decoded) throw new AgeKeyError(`recipient "${text.slice(0, 80)}" is not valid Bech32: give an age1… public key as age-keygen prints it`);
  if (decoded.hrp !== RECIPIENT_HRP) {
    throw new AgeKeyError(`recipient "${text.slice(0, 80)}" is a "${decoded.hrp}" key, not an X25519 recipient (age1…): only X25519 recipients are supported`);
  }
  if (decoded.data.length !== 32) throw new AgeKeyError(`recipient "${text.slice(0, 80)}" holds ${decoded.data.length} bytes, not 32: it is not an X25519 public key`);
  return X25519Recipient.fromRaw(decoded.data);
}

/** Parses an AGE-SECRET-KEY-1… identity. Throws AgeKeyError, which never quotes the secret. */
export function parseIdentity(text: string): X25519Identity {
  const decoded = bech32Decode(text);
  if (!decoded) throw new AgeKeyError('identity is not valid Bech32: give an AGE-SECRET-KEY-1… line as age-keygen writes it');
  if (decoded.hrp !== IDENTITY_HRP) {
    const kind = decoded.hrp.startsWith('age-plugin-') ? 'a plugin identity' : decoded.hrp === 'age-secret-key-pq-' ? 'a post-quantum (ML-KEM) identity' : `a "${decoded.hrp.toUpperCase()}" key`;
    throw new AgeKeyError(`identity is ${kind}, not an X25519 identity (AGE-SECRET-KEY-1…): only X25519 identities are supported`);
  }
  if (text !== text.toUpperCase()) throw new AgeKeyError('identity is in lower case: age writes AGE-SECRET-KEY-1… in upper case; copy the line as age-keygen wrote it');
  if (decoded.data.length !== 32) throw new AgeKeyError(`identity holds ${decoded.data.length} bytes, not 32: it is not an X25519 private key`);
  return X25519Identity.fromRaw(decoded.data);
}

/** The meaningful lines of a key file (no blank lines, no # comments), with their line numbers. */
function keyLines(text: string, what: string): { line: string; n: number }[] {
  if (Buffer.byteLength(text) > KEY_FILE_MAX_BYTES) throw new AgeKeyError(`${what} is larger than ${KEY_FILE_MAX_BYTES} bytes: it is not a key file`);
  const out: { line: string; n: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || line.startsWith('#')) return;
    out.push({ line, n: i + 1 });
  });
  if (out.length === 0) throw new AgeKeyError(`${what} holds no key (only blank lines and comments)`);
  return out;
}

/** Parses an identity file (age-keygen's output): one AGE-SECRET-KEY-1… a line, # comments and blank lines allowed. */
export function parseIdentityFile(text: string, name = 'identity file'): X25519Identity[] {
  return parseKeyFile(text, name, parseIdentity);
}

/** Parses a recipients file: one age1… a line, # comments and blank lines allowed. */
export function parseRecipientsFile(text: string, name = 'recipients file'): X25519Recipient[] {
  return parseKeyFile(text, name, parseRecipient);
}

/** Each key line of a key file through `parse`, a refusal naming the file and the line. */
function parseKeyFile<K>(text: string, name: string, parse: (line: string) => K): K[] {
  return keyLines(text, name).map(({ line, n }) => {
    try {
      return parse(line);
    } catch (err) {
      throw new AgeKeyError(`${name} line ${n}: ${(err as Error).message}`, { line: n }, { cause: err });
    }
  });
}

/** An identity file in age-keygen's layout (creation time, public key, secret key), readable by `age -d -i`. */
export function formatIdentityFile(identity: X25519Identity, created = new Date()): string {
  return `# created: ${created.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${identity.recipient.toString()}\n${identity.toString()}\n`;
}
