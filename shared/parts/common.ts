/** Pieces every part schema uses: files at the destination and their checks. */
import { z } from 'zod';
import { ROLE_NAMES } from '../contract';
import { relPathProblem } from '../destination/paths';

/** Role names a backup set can hold parts of: the production roles and the protocol's test role. */
export const PART_ROLES = [...ROLE_NAMES, 'rehearsal'] as const;
/** A role that holds a part of a backup set. */
export type PartRole = (typeof PART_ROLES)[number];

/** A path relative to the destination root, as destinations accept it. */
export const destPath = z.string().superRefine((p, ctx) => {
  const why = relPathProblem(p);
  if (why) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)}: ${why}` });
});

/** A sha256 in lowercase hex. */
export const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

/** A file at the destination with what it must hold. */
export const fileRef = z.strictObject({
  path: destPath,
  size: z.int().nonnegative(),
  sha256,
});

/** A file at the destination with what it must hold. */
export type FileRef = z.output<typeof fileRef>;

/** Instants are ms since the epoch. */
export const epochMs = z.number().int().nonnegative();
