/**
 * The agent's state on disk (state.json in the state folder), written atomically, so a
 * restarted agent knows what it had prepared or committed and can clean up after itself.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { withoutCredentials } from '../../shared/destination/config';
import type { BackupRecord } from './state';

/** What state.json holds. */
export interface PersistedState {
  version: 2;
  /** The backup the agent is working on, if any. */
  current: string | null;
  /** Recent backups by id, newest last, so repeated calls get the same answer. */
  backups: Record<string, BackupRecord>;
}

/**
 * How many finished backups are remembered for idempotent answers. Records are small (a
 * reference to the node's part.json, counts), so the file stays a few tens of KiB.
 */
const HISTORY = 100;

/** Reads and writes state.json. */
export class StateStore {
  readonly file: string;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, 'state.json');
  }

  /** The saved state, or an empty one when there is none yet. */
  load(): PersistedState {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 2, current: null, backups: {} };
      throw err;
    }
    const parsed = JSON.parse(text) as PersistedState | { version: 1 };
    if (parsed.version === 1) {
      // Written by an older agent, whose records held whole results: kept aside, not read. Its
      // snapshots are still cleared at start-up by the roles' own recovery.
      renameSync(this.file, `${this.file}.v1`);
      return { version: 2, current: null, backups: {} };
    }
    if (parsed.version !== 2) throw new Error(`${this.file}: unknown state version ${String((parsed as { version: unknown }).version)}`);
    return scrubbed(parsed);
  }

  /** Writes the state atomically: temp file, fsync, rename. */
  save(state: PersistedState): void {
    const ids = Object.keys(state.backups);
    for (const id of ids.slice(0, Math.max(0, ids.length - HISTORY))) {
      if (id !== state.current) delete state.backups[id];
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(scrubbed(state), null, 1), { mode: 0o600 });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}

/**
 * The state without destination keys. The protocol carries none; a record written by an older
 * agent may hold the coordinator's, and the next save drops them.
 */
function scrubbed(state: PersistedState): PersistedState {
  const backups: Record<string, BackupRecord> = {};
  for (const [id, r] of Object.entries(state.backups)) backups[id] = r.plan?.destination ? { ...r, plan: { ...r.plan, destination: withoutCredentials(r.plan.destination) } } : r;
  return { ...state, backups };
}
