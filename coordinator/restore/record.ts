/**
 * `<stateDir>/restore.json`: the restore or drill this coordinator runs, or ran last, for
 * `tandem status` in another terminal. Written atomically when the run starts, at each phase and
 * at its end; a record whose process is gone before its end is an interrupted restore, resumed
 * by the command it holds. Restores take no lock: a later restore's record replaces an earlier
 * one's (a warning names an interrupted one being replaced, with its resume command).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileDurably } from '../../shared/durable-file';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { RESTORE_RUN_PHASES } from '../../shared/contract';
import { errorMessage } from '../../shared/errors';
import { BACKUP_ID } from '../../shared/names';
import { processAlive } from '../backup/lock';
import type { RestoreRunPhase } from './run';

/** Name of the record in the coordinator's state folder. */
export const RESTORE_RECORD_FILE = 'restore.json';
export const RESTORE_RECORD_FORMAT = 'tandem.restore-run/v1';

const phase = z.enum(RESTORE_RUN_PHASES);

/** What restore.json holds; every reader parses it with this schema. */
export const restoreRecordSchema = z.strictObject({
  format: z.literal(RESTORE_RECORD_FORMAT),
  restoreId: z.string().regex(BACKUP_ID),
  backupId: z.string().regex(BACKUP_ID),
  kind: z.enum(['restore', 'drill']),
  pid: z.number().int().positive(),
  host: z.string().min(1),
  /** When the run started (after the set was checked), epoch ms. */
  startedMs: z.number().int().nonnegative(),
  /** The phase running or last run; null before the first. */
  phase: phase.nullable(),
  /** When each phase started, epoch ms, by this coordinator's clock. */
  phases: z.partialRecord(phase, z.number().int().nonnegative()),
  /** The `tandem` arguments that resume this run (its own, with --restore-id). */
  resume: z.array(z.string()),
  /** Set once the run ended, whichever way. */
  ended: z.strictObject({ atMs: z.number().int().nonnegative(), ok: z.boolean(), reason: z.string() }).nullable(),
});

export type RestoreRecord = z.output<typeof restoreRecordSchema>;

/** The record as `tandem status` reads it: `interrupted` when it has not ended and its process is gone. */
export interface ReadRestoreRecord {
  record: RestoreRecord;
  interrupted: boolean;
}

/** The running restore's record, which it updates as it goes. */
export interface RunningRestore {
  readonly record: RestoreRecord;
  /** A phase starts (called once per phase; cleanup's second group does not move it). */
  phase(phase: RestoreRunPhase): void;
  /** The run ended: restored and verified, or not, and why. */
  end(ok: boolean, reason: string): void;
}

/**
 * Starts the record of restore `restoreId`; `warn` hears of an interrupted restore it replaces and
 * of a record that cannot be written (a status nobody sees must not fail a restore).
 */
export function startRestoreRecord(
  stateDir: string,
  run: { restoreId: string; backupId: string; kind: 'restore' | 'drill'; resume: string[] },
  warn: (message: string) => void,
  now: () => number = Date.now,
): RunningRestore {
  const earlier = readRestoreRecord(stateDir, warn);
  if (earlier?.interrupted && earlier.record.restoreId !== run.restoreId) {
    warn(`${join(stateDir, RESTORE_RECORD_FILE)}: ${earlier.record.kind} ${earlier.record.restoreId} of backup ${earlier.record.backupId} was interrupted; tandem status shows this run instead; resume it with: ${resumeCommand(earlier.record)}`);
  }
  const record: RestoreRecord = {
    format: RESTORE_RECORD_FORMAT,
    ...run,
    pid: process.pid,
    host: hostname(),
    startedMs: now(),
    phase: null,
    phases: {},
    ended: null,
  };
  let failedOnce = false;
  const save = () => {
    try {
      writeAtomically(stateDir, record);
    } catch (err) {
      if (!failedOnce) warn(`cannot write ${join(stateDir, RESTORE_RECORD_FILE)} (tandem status will not show this run): ${errorMessage(err)}; set the fleet file's stateDir to a folder this user can write`);
      failedOnce = true;
    }
  };
  save();
  return {
    record,
    phase(p) {
      if (record.phase === p) return;
      record.phase = p;
      record.phases[p] = now();
      save();
    },
    end(ok, reason) {
      record.ended = { atMs: now(), ok, reason };
      save();
    },
  };
}

/** What `<stateDir>/restore.json` says now: null when there is none; `warn` hears of one that is not a record of this tandem. */
export function readRestoreRecord(stateDir: string, warn: (message: string) => void): ReadRestoreRecord | null {
  const file = join(stateDir, RESTORE_RECORD_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // Status only: a record that cannot be read is told, never fatal.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${file}: ${errorMessage(err)}`);
    return null;
  }
  try {
    const record = restoreRecordSchema.parse(JSON.parse(text));
    return { record, interrupted: record.ended === null && !processAlive(record.pid, record.host) };
  } catch (err) {
    warn(`ignoring ${file}: not a restore record of this tandem (${errorMessage(err)})`);
    return null;
  }
}

/**
 * Marks the record of `restoreId` ended (not ok, with `reason`) when it names that restore and has
 * not ended: `tandem status` then no longer offers to resume it. True when it did.
 */
export function endRestoreRecord(stateDir: string, restoreId: string, reason: string, warn: (message: string) => void, now: () => number = Date.now): boolean {
  const read = readRestoreRecord(stateDir, warn);
  if (!read || read.record.restoreId !== restoreId || read.record.ended) return false;
  writeAtomically(stateDir, { ...read.record, ended: { atMs: now(), ok: false, reason } });
  return true;
}

/** The command that resumes the record's run, quoted for a POSIX shell. */
export function resumeCommand(r: Pick<RestoreRecord, 'resume'>): string {
  return ['tandem', ...r.resume].map(shellWord).join(' ');
}

function shellWord(w: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function writeAtomically(stateDir: string, record: RestoreRecord): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileDurably(join(stateDir, RESTORE_RECORD_FILE), JSON.stringify(restoreRecordSchema.parse(record)) + '\n');
}
