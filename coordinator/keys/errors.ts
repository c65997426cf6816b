/** Errors of set keys: the operator reads them, so each says which keys would do and what to run. */
import { TandemError } from '../../shared/errors';

/** A set key or identity file is missing, damaged or unusable. */
export class SetKeyError extends TandemError {}

/** None of the identities given opens a set key; the message names the recipients it is sealed to. */
export class SetKeyNoMatchError extends SetKeyError {}

/** An identity file is readable by its group or by others. */
export class IdentityFileModeError extends SetKeyError {}
