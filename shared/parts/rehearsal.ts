/** The rehearsal role's records: the protocol's own test role, which stores one small file. */
import { z } from 'zod';
import { epochMs, fileRef } from './common';

/** What the rehearsal role's Commit records: the instant of its cut. */
export const rehearsalCommitSchema = z.strictObject({ cutAt: epochMs });
/** The rehearsal role's part: the one file it stored. */
export const rehearsalPartSchema = z.strictObject({ file: fileRef, summary: z.string() });
