/** The rehearsal role's records: the protocol's own test role, which stores one small file. */
import { z } from 'zod';
import { epochMs, fileRef } from './common';

export const rehearsalCommitSchema = z.strictObject({ cutAt: epochMs });
export const rehearsalPartSchema = z.strictObject({ file: fileRef, summary: z.string() });
