/**
 * One `tandem backup` at a time per coordinator state folder (the fleet file's stateDir):
 * `<stateDir>/backup.lock` names the running backup, its pid, host and start time. A second
 * coordinator is refused at once, before any RPC, instead of learning from the agents that they
 * are busy and then sending its own Abort. A lock whose process is gone (killed, crashed) is
 * stale and is taken over.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, ConflictError, errorMessage } from '../../shared/errors';
import { removeQuietly, writeFileSynced } from '../../shared/durable-file';

/** What the lock file holds. */
export interface LockHolder {
  pid: number;
  backupId: string;
  /** ISO 8601 instant the lock was taken. */
  startedAt: string;
  host: string;
}

/** A lock this process holds. */
export interface BackupLock {
  file: string;
  holder: LockHolder;
  /** Removes the lock if it is still this process's; safe to call more than once. */
  release(): void;
}

/** Name of the lock file in the coordinator's state folder. */
export const LOCK_FILE = 'backup.lock';

/** Verbs that hold the lock under their own name instead of a backup id: recover, and prune and delete (a backup must not pick a parent they remove). */
export const LOCK_VERBS: ReadonlySet<string> = new Set(['recover', 'prune', 'delete']);

/** Lock files this process holds: a lock naming this pid is ours only if it is here. */
const heldHere = new Set<string>();

/** Takes the backup lock for `backupId`, or throws ConflictError naming the backup that holds it; `warn` hears of a stale lock taken over. */
export function acquireBackupLock(stateDir: string, backupId: string, warn: (message: string) => void): BackupLock {
  const file = join(stateDir, LOCK_FILE);
  const holder: LockHolder = { pid: process.pid, backupId, startedAt: new Date().toISOString(), host: hostname() };
  const text = JSON.stringify(holder) + '\n';
  // Written in full under a name of its own, then linked to the lock's name: link(2) fails when
  // the name exists, as O_EXCL does, and no reader ever sees a half-written lock.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSynced(tmp, text);
  } catch (err) {
    removeQuietly(tmp);
    throw new ConfigError(`cannot write the backup lock in stateDir ${stateDir}: ${errorMessage(err)}; set the fleet file's stateDir to a folder this user can write`, { file }, { cause: err });
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, file);
        return held(file, holder, text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = readIfThere(file);
      if (current === null) continue; // released meanwhile
      const other = parseHolder(current);
      if (!other) throw new ConflictError(`${file} exists but is not a tandem backup lock; remove it if no tandem backup is running`, { file });
      if (alive(other, file)) {
        const what = LOCK_VERBS.has(other.backupId) ? `'tandem ${other.backupId}' is running with state folder ${stateDir}` : `another tandem backup is running with state folder ${stateDir}: backup ${other.backupId}`;
        throw new ConflictError(
          `${what} (pid ${other.pid} on ${other.host}, started ${other.startedAt}); ` +
            `wait for it to end (remove ${file} only if pid ${other.pid} is not a tandem process)`,
          { file, backupId: other.backupId, pid: other.pid },
        );
      }
      if (takeOver(file, current)) warn(`taking over the stale lock ${file} of backup ${other.backupId}: pid ${other.pid} on ${other.host} is gone`);
    }
    throw new ConflictError(`cannot take ${file}: other coordinators keep changing it; try again`, { file });
  } finally {
    unlinkSync(tmp);
  }
}

/** What `<stateDir>/backup.lock` says now, without taking it: null when there is none (or it is not a tandem lock); `stale` when its process is gone. */
export function readBackupLock(stateDir: string): { holder: LockHolder; stale: boolean } | null {
  const file = join(stateDir, LOCK_FILE);
  const text = readIfThere(file);
  const holder = text === null ? null : parseHolder(text);
  return holder && { holder, stale: !alive(holder, file) };
}

function held(file: string, holder: LockHolder, text: string): BackupLock {
  // A process.exit() anywhere still removes the lock; a kill -9 leaves it stale, and stale locks are taken over.
  const release = () => {
    process.off('exit', release);
    heldHere.delete(file);
    if (readIfThere(file) === text) unlinkSync(file);
  };
  heldHere.add(file);
  process.on('exit', release);
  return { file, holder, release };
}

/** True unless the holder's process is known to be gone (a lock from another host cannot be checked: it holds). */
function alive(h: LockHolder, file: string): boolean {
  if (h.host !== hostname()) return true;
  if (h.pid === process.pid) return heldHere.has(file); // else written by an earlier process that had this pid
  return processAlive(h.pid, h.host);
}

/** True unless process `pid` on `host` is known to be gone: one on another host cannot be checked, and counts as alive. */
export function processAlive(pid: number, host: string): boolean {
  if (host !== hostname()) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/**
 * Moves the stale lock aside and removes it, unless what was moved is no longer the stale one
 * (another coordinator took it over first): that lock is put back and false returned.
 */
function takeOver(file: string, staleText: string): boolean {
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = readFileSync(aside, 'utf8');
  try {
    if (moved === staleText) return true;
    linkSync(aside, file);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false; // a third one holds it now
    throw err;
  } finally {
    unlinkSync(aside);
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isInteger(h.pid) && typeof h.backupId === 'string' && typeof h.startedAt === 'string' && typeof h.host === 'string') return h as LockHolder;
  } catch {
    // not JSON: not a lock of ours
  }
  return null;
}

function readIfThere(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
