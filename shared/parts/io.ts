/**
 * The small files of a backup set that records point at (part.json, listings, contents, records):
 * written atomically with their reference, read back only through that reference. What comes back
 * from a destination is input from the network: its size, sha256 and shape are all checked.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Destination } from '../destination';
import { firstIssue, ValidationError } from '../errors';
import type { FileRef } from './common';

/** sha256 of some bytes, lowercase hex. */
export const sha256Of = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

/** Writes `body` at `path` atomically; returns the reference a record keeps. */
export async function writeReferenced(dest: Destination, path: string, body: string): Promise<FileRef> {
  await dest.writeAtomic(path, body);
  return { path, size: Buffer.byteLength(body), sha256: sha256Of(body) };
}

/** Reads the small file `ref` names; ValidationError unless its size and sha256 are the recorded ones. */
export async function readChecked(dest: Destination, ref: FileRef): Promise<Buffer> {
  // The record bounds the read: a file of another size is refused from its stored size, unread, and none is read past it.
  const st = await dest.stat(ref.path);
  if (st && st.size !== ref.size) {
    throw new ValidationError(`${ref.path} does not match its record (${st.size} bytes; expected ${ref.size}, ${ref.sha256}): the backup set is damaged`);
  }
  const body = await readUpTo(dest, ref.path, ref.size);
  const got = sha256Of(body);
  if (body.length !== ref.size || got !== ref.sha256) {
    throw new ValidationError(`${ref.path} does not match its record (${body.length} bytes, sha256 ${got}; expected ${ref.size}, ${ref.sha256}): the backup set is damaged`);
  }
  return body;
}

/** A stored file's bytes, at most `max` + 1 of them: enough to tell that it is longer than `max`. */
async function readUpTo(dest: Destination, path: string, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of await dest.get(path)) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (n > max) break;
  }
  return Buffer.concat(chunks);
}

/** Reads the file `ref` names and parses it with `schema`; ValidationError naming the file and the field otherwise. */
export async function readReferenced<S extends z.ZodType>(dest: Destination, ref: FileRef, schema: S, what: string): Promise<z.output<S>> {
  return parseJson(await readChecked(dest, ref), schema, ref.path, what);
}

/** JSON read back from a destination, parsed with `schema`; ValidationError naming the file and the field otherwise. */
export function parseJson<S extends z.ZodType>(body: Buffer | string, schema: S, path: string, what: string): z.output<S> {
  return parseValue(parseJsonText(body, path), schema, path, what);
}

/** A value read back from `path`, parsed with `schema`; ValidationError naming the file and the field otherwise. */
export function parseValue<S extends z.ZodType>(value: unknown, schema: S, path: string, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`${path} is not a valid ${what}: ${firstIssue(r.error)}`);
  return r.data;
}

/** The JSON value of a file read back from a destination; ValidationError when it is not JSON. */
export function parseJsonText(body: Buffer | string, path: string): unknown {
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new ValidationError(`${path} is not valid JSON: the backup set is damaged`);
  }
}
