/**
 * The file store capture's progress (`<stateDir>/files-capture/progress.json`): every regular
 * file it has stored, by path, with the size, mtime and inode it had (a file differing in any of
 * them is stored again), the journal being written (its number and its signed lines: the
 * destination has no append, so the journal is rewritten whole from here as it grows, and a new
 * one started once it is full), and the objects of the batch under way. Saved before a batch
 * stores anything (`pending`: its object ids) and after it (its lines), so after a crash the
 * objects of an unfinished batch are removed and stored again, and nothing recorded is copied twice.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ProgressFile } from '../../../../shared/capture/progress-file';
import { CAPTURE_OBJECT_ID } from '../../../../shared/destination/layout';

/** What the capture knows of one stored file. */
export const storedFileSchema = z.strictObject({
  size: z.number().int().min(0),
  mtimeMs: z.number().min(0),
  ino: z.number().int().min(0).optional(),
  object: z.string().regex(CAPTURE_OBJECT_ID),
  storedAt: z.number().int().min(0),
});
/** A stored file. */
export type StoredFile = z.output<typeof storedFileSchema>;

/** The progress file's schema. */
export const filesProgressSchema = z.strictObject({
  version: z.literal(1),
  /** The seq of the last journal line written (0 before the first). */
  seq: z.number().int().min(0),
  /** The journal being written: its number and its lines, signed, in order. */
  journal: z.strictObject({ n: z.number().int().min(1), lines: z.array(z.string()) }),
  /** Every file as last stored, by path relative to the folder. */
  files: z.record(z.string(), storedFileSchema),
  /** Objects the batch under way may have stored and no line names yet. */
  pending: z.array(z.string().regex(CAPTURE_OBJECT_ID)),
});
/** The capture's progress. */
export type FilesProgress = z.output<typeof filesProgressSchema>;

/** The progress of a capture that has stored nothing yet. */
export const emptyFilesProgress = (): FilesProgress => ({ version: 1, seq: 0, journal: { n: 1, lines: [] }, files: {}, pending: [] });

/** The progress file under the agent's state folder. */
export class FilesProgressStore extends ProgressFile<typeof filesProgressSchema> {
  constructor(stateDir: string) {
    super(join(stateDir, 'files-capture', 'progress.json'), filesProgressSchema, emptyFilesProgress, 'every file is then stored again, into a new journal: move the node\'s files folder of the capture aside at the destination too');
  }
}
