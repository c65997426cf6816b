/**
 * The small files of a backup set that records point at (part.json, listings, contents, records):
 * written atomically with their reference, read back only through that reference. What comes back
 * from a destination is input from the network: its size, sha256 and shape are all checked.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { readAll, type Destination } from '../destination';
import { ValidationError } from '../errors';
import type { FileRef } from './common';

/** sha256 of some bytes, lowercase hex. */
export const sha256Of = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

/** Writes `body` at `path` atomically; returns the reference a record keeps. */
export async function writeReferenced(dest: Destination, path: string, body: string): Promise<FileRef> {
  await dest.writeAtomic(path, body);
  return { path, size: Buffer.byteLength(body), sha256: sha256Of(body) };
}

/** Reads the file `ref` names and parses it with `schema`; ValidationError naming the file and the field otherwise. */
export async function readReferenced<S extends z.ZodType>(dest: Destination, ref: FileRef, schema: S, what: string): Promise<z.output<S>> {
  const body = await readAll(dest, ref.path);
  const got = sha256Of(body);
  if (body.length !== ref.size || got !== ref.sha256) {
    throw new ValidationError(`${ref.path} does not match its record (${body.length} bytes, sha256 ${got}; expected ${ref.size}, ${ref.sha256}): the backup set is damaged`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ValidationError(`${ref.path} is not valid JSON: the backup set is damaged`);
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw new ValidationError(`${ref.path} is not a valid ${what}: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`);
  return r.data;
}
