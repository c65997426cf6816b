/**
 * The agent's backup state machine, as pure data and functions:
 *
 *   idle → prepared → committed → shipping → done
 *            │            │           │
 *            └────────────┴───────────┴──→ aborted      (committed/shipping → failed → aborted)
 *
 * One backup at a time per node. A prepared backup holds a lease; when neither Commit nor Abort
 * arrives before it expires, the agent aborts it by itself. Done is final: its parts may be a
 * complete set's, so nothing (an Abort included) undoes them.
 */
import type { DestinationConfig } from '../../shared/destination';
import { ConflictError } from '../../shared/errors';
import type { RoleProgress } from '../../shared/generated/tandem/v2/agent';
import type { FileRef } from '../../shared/parts';
import type { BackupOptions } from '../../shared/wire/backup-options';
import type { ParentRef } from './parent';

/** Every state a backup can be in on one agent. */
export type BackupState = 'prepared' | 'committed' | 'shipping' | 'done' | 'aborted' | 'failed';

/** What the coordinator asked this agent to back up, as persisted. */
export interface PlanRecord {
  backupId: string;
  tag: string;
  leaseMs: number;
  destination: DestinationConfig;
  options: BackupOptions;
  /** The complete set this backup builds on; null (or absent, in records of older versions) for a full backup. */
  parent?: ParentRef | null;
}

/** Progress of one role, as the protocol carries it. */
export type RoleProgressRecord = RoleProgress;

/** The persisted record of one backup on this agent. */
export interface BackupRecord {
  plan: PlanRecord;
  state: BackupState;
  leaseExpiresAt: number;
  committedAt: number;
  /** Every role's record of the cut (small: instants, counts). */
  commits: Record<string, unknown>;
  /** Once done: the node's part.json at the destination, and what the node stored. */
  part: FileRef | null;
  stored: { files: number; bytes: number };
  progress: RoleProgressRecord[];
  error: string;
  /** What an undo could not remove (a snapshot, a part, an Elasticsearch snapshot); the next Abort retries it. */
  debris?: string[];
  updatedAt: number;
}

const ALLOWED: Record<BackupState, readonly BackupState[]> = {
  prepared: ['committed', 'aborted'],
  committed: ['shipping', 'failed', 'aborted'],
  shipping: ['done', 'failed', 'aborted'],
  // done → aborted only while the set has no manifest: the controller checks the destination.
  done: ['aborted'],
  failed: ['aborted'],
  aborted: [],
};

/** States in which the agent holds resources for the backup and refuses another one. */
export const ACTIVE_STATES: readonly BackupState[] = ['prepared', 'committed', 'shipping'];
/** States after which the backup record never changes by itself. */
export const TERMINAL_STATES: readonly BackupState[] = ['done', 'aborted', 'failed'];

/** True when the agent holds resources for this backup. */
export const isActive = (s: BackupState) => ACTIVE_STATES.includes(s);
/** True when the backup's record no longer changes by itself. */
export const isTerminal = (s: BackupState) => TERMINAL_STATES.includes(s);

/** True when the state machine allows going from one state to another. */
export function canTransition(from: BackupState, to: BackupState): boolean {
  return ALLOWED[from].includes(to);
}

/** A new record for a backup that has just been prepared. */
export function preparedRecord(plan: PlanRecord, now: number): BackupRecord {
  return {
    plan,
    state: 'prepared',
    leaseExpiresAt: now + plan.leaseMs,
    committedAt: 0,
    commits: {},
    part: null,
    stored: { files: 0, bytes: 0 },
    progress: [],
    error: '',
    updatedAt: now,
  };
}

/** Returns a copy of the record moved to a new state, or throws ConflictError if not allowed. */
export function transition(record: BackupRecord, to: BackupState, now: number, fields: Partial<BackupRecord> = {}): BackupRecord {
  if (!canTransition(record.state, to)) {
    throw new ConflictError(`backup ${record.plan.backupId} is ${record.state} and cannot become ${to}`, {
      backupId: record.plan.backupId,
    });
  }
  return { ...record, ...fields, state: to, updatedAt: now };
}

/** True when a prepared backup's lease has run out. */
export function leaseExpired(record: BackupRecord, now: number): boolean {
  return record.state === 'prepared' && now >= record.leaseExpiresAt;
}
