/**
 * The coordinator's journal: one small file per backup in `<stateDir>/journal/`, rewritten
 * atomically (and fsynced) at each step of the two-phase run. A coordinator killed at any instant
 * leaves the step it had reached, and the next `tandem backup` or `tandem recover` reads it to
 * complete the set or remove it (recover.ts). The step is written *before* the step's first RPC:
 * "committing" on disk is the only way a Commit can have been sent.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileDurably } from '../../shared/durable-file';
import { errorMessage } from '../../shared/errors';
import { BACKUP_ID } from '../../shared/names';
import { backupOptionsSchema, type BackupOptions } from '../../shared/wire/backup-options';

/**
 * Steps of a backup run, in order; the last four end it. "abandoned": closed by the operator
 * (`tandem recover --abandon`) when recovery could not decide it (abandon.ts).
 */
export const JOURNAL_STEPS = ['preparing', 'committing', 'shipping', 'writing-manifest', 'cleaning', 'complete', 'aborted', 'failed', 'abandoned'] as const;
export type JournalStep = (typeof JOURNAL_STEPS)[number];

/** A run in one of these steps has nothing left to do. "cleaning": ended, but some agent was not reached to undo its part. */
export const FINISHED_STEPS: ReadonlySet<JournalStep> = new Set(['complete', 'aborted', 'failed', 'abandoned']);

export const JOURNAL_FORMAT = 'tandem.journal/v1';

const entrySchema = z.strictObject({
  format: z.literal(JOURNAL_FORMAT),
  backupId: z.string().regex(BACKUP_ID),
  step: z.enum(JOURNAL_STEPS),
  /** Epoch ms the run started (the manifest's startedAt). */
  startedMs: z.number().int().nonnegative(),
  updatedAt: z.string(),
  pid: z.number().int(),
  host: z.string(),
  /** The run's options, as the manifest records them. */
  options: backupOptionsSchema,
  /** The complete set the run builds on, as the manifest records it; null for a full set. */
  parent: z.string().regex(BACKUP_ID).nullable().default(null),
  /** Why the run ended, or what is still to do. */
  reason: z.string().default(''),
  /** When each step was reached, epoch ms: the run's timeline. */
  steps: z.record(z.string(), z.number()).default({}),
});

/** One backup's journal entry. */
export type JournalEntry = z.output<typeof entrySchema>;

/** How many finished entries are kept (for `tandem status` and reports); older ones are removed. */
const KEEP_FINISHED = 50;

/** The journal of one coordinator state folder. */
export class Journal {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'journal');
  }

  /** True when the journal has an entry for `backupId`, finished or not. */
  has(backupId: string): boolean {
    return existsSync(join(this.dir, `${backupId}.json`));
  }

  /** Starts the entry of a new run in step "preparing", before its first Prepare. */
  begin(backupId: string, startedMs: number, options: BackupOptions, parent: string | null = null): JournalEntry {
    const now = Date.now();
    const entry: JournalEntry = {
      format: JOURNAL_FORMAT,
      backupId,
      step: 'preparing',
      startedMs,
      updatedAt: new Date(now).toISOString(),
      pid: process.pid,
      host: hostname(),
      options,
      parent,
      reason: '',
      steps: { preparing: now },
    };
    this.write(entry);
    return entry;
  }

  /** Records that `entry` reached `step` (durably, before the step's first RPC). */
  step(entry: JournalEntry, step: JournalStep, reason = ''): JournalEntry {
    const now = Date.now();
    const next = { ...entry, step, reason, updatedAt: new Date(now).toISOString(), steps: { ...entry.steps, [step]: now } };
    this.write(next);
    if (FINISHED_STEPS.has(step)) this.trim();
    return next;
  }

  /** Every entry, oldest first; a file that is not a journal entry is reported to `warn` and skipped. */
  entries(warn: (message: string) => void = () => {}): JournalEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: JournalEntry[] = [];
    for (const name of names) {
      const file = join(this.dir, name);
      try {
        const e = entrySchema.parse(JSON.parse(readFileSync(file, 'utf8')));
        if (`${e.backupId}.json` !== name) throw new Error(`names backup ${e.backupId}`);
        out.push(e);
      } catch (err) {
        warn(`ignoring ${file}: not a journal entry of this tandem (${errorMessage(err)})`);
      }
    }
    return out.sort((a, b) => a.startedMs - b.startedMs);
  }

  /** Entries of runs that did not finish: what recovery has to do. */
  unfinished(warn?: (message: string) => void): JournalEntry[] {
    return this.entries(warn).filter((e) => !FINISHED_STEPS.has(e.step));
  }

  private write(entry: JournalEntry): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileDurably(join(this.dir, `${entry.backupId}.json`), JSON.stringify(entrySchema.parse(entry)) + '\n');
  }

  /** Keeps the newest KEEP_FINISHED finished entries. */
  private trim(): void {
    const finished = this.entries().filter((e) => FINISHED_STEPS.has(e.step));
    for (const e of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      try {
        unlinkSync(join(this.dir, `${e.backupId}.json`));
      } catch {
        // already gone
      }
    }
  }
}
