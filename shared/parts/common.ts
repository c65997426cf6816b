/** Pieces every part schema uses: files at the destination and their checks. */
import { z } from 'zod';
import { relPathProblem } from '../destination/paths';

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
