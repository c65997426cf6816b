/**
 * The age header: version line, recipient stanzas, MAC. Writing it, finding where it ends in a
 * stream, and parsing it strictly (the ABNF of the spec, canonical unpadded base64, 64-column
 * body lines ending with a short one), then opening the file key and checking the MAC.
 */
import { timingSafeEqual } from 'node:crypto';
import { decodeBase64, encodeBase64 } from './base64';
import { AgeHeaderError, AgeHeaderMacError, AgeNoMatchError } from './errors';
import { hkdf, hmac } from './primitives';

/** One recipient stanza: `-> type args…` and its body. */
export interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

/** What opens stanzas of its own type (an X25519 identity): the file key, or null for a stanza not for it. */
export interface StanzaOpener {
  unwrap(stanza: Stanza): Buffer | null;
}

/** A parsed header: its stanzas, the bytes its MAC covers, and the MAC. */
export interface Header {
  stanzas: Stanza[];
  macInput: Buffer;
  mac: Buffer;
}

export const VERSION_LINE = 'age-encryption.org/v1';
const VERSION_PREFIX = 'age-encryption.org/';
const COLUMNS = 64;
const MAC_PREFIX = '---';
const FILE_KEY_SIZE = 16;

/** The header MAC over `macInput` (the header up to and including `---`). */
export function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  return hmac(hkdf(fileKey, Buffer.alloc(0), 'header'), macInput);
}

/** The header for `stanzas`, authenticated with `fileKey`. */
export function encodeHeader(stanzas: readonly Stanza[], fileKey: Uint8Array): Buffer {
  let text = `${VERSION_LINE}\n`;
  for (const s of stanzas) {
    text += `-> ${[s.type, ...s.args].join(' ')}\n`;
    const body = encodeBase64(s.body);
    // Full 64-column lines, then a shorter final one (empty when the body fills its last line).
    for (let i = 0; i + COLUMNS <= body.length; i += COLUMNS) text += `${body.slice(i, i + COLUMNS)}\n`;
    text += `${body.slice(body.length - (body.length % COLUMNS))}\n`;
  }
  text += MAC_PREFIX;
  const macInput = Buffer.from(text, 'latin1');
  return Buffer.concat([macInput, Buffer.from(` ${encodeBase64(headerMac(fileKey, macInput))}\n`, 'latin1')]);
}

/**
 * Where the header in `buf` ends (the offset just past the MAC line's LF), or -1 when `buf`
 * does not hold all of it yet. `from` is where the previous search stopped, so a header that
 * arrives in pieces is scanned once. Throws AgeHeaderError as soon as the start is not an age v1 header.
 */
export function findHeaderEnd(buf: Buffer, from = 0): { end: number; scanned: number } {
  const prefix = Math.min(buf.length, VERSION_PREFIX.length);
  if (buf.toString('latin1', 0, prefix) !== VERSION_PREFIX.slice(0, prefix)) {
    throw new AgeHeaderError('this is not an age file (it does not start with "age-encryption.org/"): give an age-encrypted file, or check that it was not armored or compressed on its way');
  }
  let lineStart = from;
  for (;;) {
    const lf = buf.indexOf(0x0a, lineStart);
    if (lf < 0) return { end: -1, scanned: lineStart };
    if (lineStart === 0) {
      const version = buf.toString('latin1', 0, lf);
      if (version !== VERSION_LINE) throw new AgeHeaderError(`unsupported age format version "${version.slice(0, 60)}": this reads ${VERSION_LINE} only`);
    } else if (buf.toString('latin1', lineStart, lineStart + MAC_PREFIX.length) === MAC_PREFIX) {
      // No body line starts with '-' (not base64) and stanzas start with "->": this is the MAC line.
      return { end: lf + 1, scanned: lf + 1 };
    }
    lineStart = lf + 1;
  }
}

function isArgument(arg: string): boolean {
  if (arg.length === 0) return false;
  for (let i = 0; i < arg.length; i++) {
    const c = arg.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Parses a whole header (as findHeaderEnd delimits it) strictly. Throws AgeHeaderError naming the line. */
export function parseHeader(buf: Buffer): Header {
  const fail = (n: number, why: string): never => {
    throw new AgeHeaderError(`age header line ${n}: ${why}: the file is malformed or was altered`, { line: n });
  };
  if (buf.length === 0 || buf[buf.length - 1] !== 0x0a) fail(1, 'the header does not end with a MAC line');
  const lines = buf.toString('latin1', 0, buf.length - 1).split('\n');
  if (lines[0] !== VERSION_LINE) fail(1, `the version line is not "${VERSION_LINE}"`);
  const stanzas: Stanza[] = [];
  let i = 1;
  while (i < lines.length && lines[i].startsWith('->')) {
    const arg = lines[i];
    if (!arg.startsWith('-> ')) fail(i + 1, 'a stanza line starts with "-> "');
    const words = arg.slice(3).split(' ');
    if (!words.every(isArgument)) fail(i + 1, 'a stanza argument is empty or holds a character other than printable ASCII');
    i++;
    let body = '';
    for (;;) {
      if (i >= lines.length) fail(i, 'a stanza has no final body line (shorter than 64 columns)');
      const line = lines[i];
      if (line.length > COLUMNS) fail(i + 1, `a stanza body line is longer than ${COLUMNS} columns`);
      if (!/^[A-Za-z0-9+/]*$/.test(line)) fail(i + 1, 'a stanza body line holds a character outside base64');
      body += line;
      i++;
      if (line.length < COLUMNS) break;
    }
    const bytes = decodeBase64(body);
    if (!bytes) fail(i, 'a stanza body is not canonical base64');
    stanzas.push({ type: words[0], args: words.slice(1), body: bytes as Buffer });
  }
  if (stanzas.length === 0) fail(i + 1, 'the header has no recipient stanza');
  if (i !== lines.length - 1) fail(i + 1, 'a line is neither a stanza nor the MAC line');
  const macLine = lines[i];
  if (!macLine.startsWith(`${MAC_PREFIX} `)) fail(i + 1, 'the MAC line is not "--- " and the MAC');
  const mac = decodeBase64(macLine.slice(MAC_PREFIX.length + 1));
  if (!mac || mac.length !== 32) fail(i + 1, 'the MAC is not the canonical base64 of 32 bytes');
  const macInput = buf.subarray(0, buf.length - 1 - (macLine.length - MAC_PREFIX.length));
  return { stanzas, macInput, mac: mac as Buffer };
}

/**
 * The file key of `header`: the first stanza one of `identities` opens, after checking the MAC.
 * Throws AgeHeaderError (a malformed stanza), AgeNoMatchError or AgeHeaderMacError.
 */
export function unwrapFileKey(header: Header, identities: readonly StanzaOpener[]): Buffer {
  for (const identity of identities) {
    for (const stanza of header.stanzas) {
      const fileKey = identity.unwrap(stanza);
      if (!fileKey) continue;
      if (fileKey.length !== FILE_KEY_SIZE) throw new AgeHeaderError(`a stanza holds a ${fileKey.length}-byte file key, not ${FILE_KEY_SIZE}: the header is malformed`);
      if (!timingSafeEqual(headerMac(fileKey, header.macInput), header.mac)) {
        throw new AgeHeaderMacError('the age header MAC does not match: the header was altered after it was written; do not trust this file, fetch a good copy');
      }
      return fileKey;
    }
  }
  const types = [...new Set(header.stanzas.map((s) => s.type))].join(', ');
  throw new AgeNoMatchError(
    `none of the ${identities.length} identities given opens this file (its stanzas: ${header.stanzas.length} of type ${types}): ` +
      'it was encrypted to other recipients; give the identity file whose public key the file was encrypted to',
    { stanzas: header.stanzas.length },
  );
}
