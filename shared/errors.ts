/**
 * Typed errors. User-facing errors (TandemError and subclasses) carry a message that tells the
 * operator what to do next; anything else reaching the top level is a bug.
 */

/** Structured fields attached to an error for logs and RPC details. */
export interface ErrorFields {
  node?: string;
  step?: string;
  [key: string]: unknown;
}

/** Base class of every error an operator is meant to read. */
export class TandemError extends Error {
  readonly fields: ErrorFields;
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.fields = fields;
  }
}

/** A configuration file or CLI option is invalid. */
export class ConfigError extends TandemError {}

/** Input (a name, a path, an archive entry, a manifest) failed validation. */
export class ValidationError extends TandemError {}

/** A precondition for a backup or restore does not hold (node down, disk full, ...). */
export class PreconditionError extends TandemError {}

/** A requested object (backup set, snapshot, table) does not exist. */
export class NotFoundError extends TandemError {}

/** The requested transition conflicts with the agent's current state (another backup running, ...). */
export class ConflictError extends TandemError {}

/**
 * An upload of a stream was cut short on its way (the network, the ssh server, a stalled
 * transfer) and nothing is stored under its name. A stream cannot be read twice: the caller that
 * made it makes it again and puts it again (retryStreamedPut).
 */
export class TransferInterruptedError extends TandemError {}

/** An external program exited non-zero, was killed, or could not be started. */
export class CommandError extends TandemError {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(
      message ??
        `${argv[0]} ${exitCode !== null ? `exited with code ${exitCode}` : `was killed by ${signal ?? 'an error'}`}` +
          (stderrTail ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''),
      { step: argv[0], exitCode, stderrTail },
      options,
    );
  }
}

/** Returns the message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A call that this version does not implement. */
export class NotImplementedError extends TandemError {}

/** A message folded to one line and capped, for vote reasons and check results. */
export function oneLine(message: string, max = 300): string {
  const flat = message.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A schema's issue, as far as firstIssue reads it (zod's shape). */
interface SchemaIssue {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  /** The branches of a union that matched none. */
  errors?: readonly (readonly SchemaIssue[])[];
  /** What was wrong with a record's key or a map's element. */
  issues?: readonly SchemaIssue[];
}

/**
 * The first problem a schema found, as `where.key.path: message` (`where` omitted when empty). A
 * union that matched no branch is explained by the branch that came closest (fewest issues), and
 * a bad record key by what the key's own schema said, so the message names the field and the value.
 */
export function firstIssue(error: { issues: readonly SchemaIssue[] }, where = ''): string {
  let i = error.issues[0];
  const path: PropertyKey[] = [];
  for (;;) {
    const inner: readonly SchemaIssue[] | undefined =
      i.code === 'invalid_union' && i.errors?.length ? [...i.errors].sort((a, b) => a.length - b.length)[0] : i.issues;
    if (!inner?.length) break;
    path.push(...i.path);
    i = inner[0];
  }
  return `${[where, ...path.map(String), ...i.path.map(String)].filter(Boolean).join('.')}: ${i.message}`;
}

/** "node: message", without saying the node twice when the error (an RpcError) already names it. */
export function nodeError(node: string, err: unknown): string {
  const m = errorMessage(err);
  return m.startsWith(`${node}: `) ? m : `${node}: ${m}`;
}
