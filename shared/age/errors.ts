/**
 * Typed errors of the age format, one per outcome the age test kit tells apart: a malformed key,
 * a header that does not parse, no identity that opens the file, a header MAC that does not
 * match, a payload that does not decrypt to its end. Messages never carry key material.
 */
import { TandemError, type ErrorFields } from '../errors';

/** Base class of every age error. */
export class AgeError extends TandemError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super(message, { step: 'age', ...fields }, options);
  }
}

/** A recipient (age1…), an identity (AGE-SECRET-KEY-1…) or a key file is malformed. */
export class AgeKeyError extends AgeError {}

/** The header does not parse: not an age file, another version, or a line breaking the format's rules. */
export class AgeHeaderError extends AgeError {}

/** The header parses but none of the identities given opens any of its recipient stanzas. */
export class AgeNoMatchError extends AgeError {}

/** An identity opened the file key but the header MAC does not match: the header was altered. */
export class AgeHeaderMacError extends AgeError {}

/** The payload does not decrypt to its end: truncated, altered, or followed by trailing bytes. */
export class AgePayloadError extends AgeError {}
