/**
 * Undoing a backup on this agent: every role's abort and cleanup, the node's folder at the
 * destination, the local work folder, then the aborted record. Nothing here throws on a step that
 * fails: what could not be removed is kept with the aborted record as debris and tried again by
 * the next Abort (or the next start), so that one service that is down never leaves the rest behind.
 */
import { rm } from 'node:fs/promises';
import type { Destination } from '../../shared/destination';
import { manifestPath, nodeFolder } from '../../shared/destination/layout';
import { PreconditionError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import type { Role, RoleContext } from '../roles/role';
import type { RoleContexts } from './context';
import type { Leases } from './leases';
import type { BackupRecords } from './records';
import { transition, type BackupRecord } from './state';
import type { Timelines } from './timeline';

/** What undoing a backup touches: its roles, its lease and timeline, and its record. */
export interface UndoParts {
  node: string;
  roles: readonly Role[];
  records: BackupRecords;
  leases: Leases;
  timelines: Timelines;
  contexts: RoleContexts;
  log: Logger;
  now: () => number;
}

/** Undoes backups, cleans up after failed ones, and retries what an undo left. */
export class BackupUndo {
  constructor(private readonly p: UndoParts) {}

  /** Role abort + cleanup, then the aborted state. Never throws: what cannot be undone is logged. */
  async undo(rec: BackupRecord, reason: string): Promise<BackupRecord> {
    const { leases, timelines, records, log, now } = this.p;
    leases.clear(rec.plan.backupId);
    timelines.forget(rec.plan.backupId);
    const problems = await this.steps(rec);
    if (problems.length) log.error({ backupId: rec.plan.backupId, problems }, 'abort left debris; the next Abort (or the next start) retries it');
    const out = transition(rec, 'aborted', now(), { error: [reason, ...problems].join('; '), debris: problems });
    records.put(out, false);
    log.info({ backupId: rec.plan.backupId, reason }, 'aborted');
    return out;
  }

  /** Tries again what an earlier undo of this aborted backup could not remove; PreconditionError while some is left. */
  async retryDebris(rec: BackupRecord): Promise<BackupRecord> {
    const problems = await this.steps(rec);
    const out = { ...rec, debris: problems, updatedAt: this.p.now() };
    this.p.records.put(out, false);
    this.p.log.info({ backupId: rec.plan.backupId, left: problems.length }, problems.length ? 'debris still left' : 'debris removed');
    return undone(out);
  }

  /** Every role's cleanup after a failed commit or ship; a cleanup that fails is logged, never thrown. */
  async cleanup(rec: BackupRecord): Promise<void> {
    for (const role of this.p.roles) {
      await role.cleanup(this.contextOf(rec, role)).catch((err) =>
        this.p.log.error({ role: role.name, err: errorMessage(err) }, 'cleanup failed'),
      );
    }
  }

  /** Every role's abort and cleanup, and the node's folder at the destination; what could not be done. */
  private steps(rec: BackupRecord): Promise<string[]> {
    const { node, roles, contexts } = this.p;
    return undoSteps({ node, rec, roles, contextOf: (role) => this.contextOf(rec, role), workDir: contexts.workDir(rec.plan.backupId), destination: contexts.destination(rec.plan) });
  }

  /** A role's context for undoing: a signal of its own, as the backup's was aborted. */
  private contextOf(rec: BackupRecord, role: Role): RoleContext {
    return this.p.contexts.of(rec, role, new AbortController().signal);
  }
}

/** What an undo works with: the backup's roles, each with its context, and this agent's folders. */
export interface UndoInput {
  node: string;
  rec: BackupRecord;
  roles: readonly Role[];
  /** A role's context for the undo: its signal is its own, not the backup's (that one was aborted). */
  contextOf(role: Role): RoleContext;
  /** The backup's work folder on this agent. */
  workDir: string;
  /** The plan's destination, where the node's folder is removed. */
  destination: Destination;
}

/** Every role's abort and cleanup, and the node's folder at the destination; what could not be done. */
export async function undoSteps({ node, rec, roles, contextOf, workDir, destination }: UndoInput): Promise<string[]> {
  const problems: string[] = [];
  for (const role of roles) {
    const ctx = contextOf(role);
    for (const step of ['abort', 'cleanup'] as const) {
      try {
        await role[step](ctx);
      } catch (err) {
        problems.push(`${role.name} ${step}: ${errorMessage(err)}`);
      }
    }
  }
  try {
    // Everything this node stores lives under <id>/<node>/: the folder goes, not only its files.
    await destination.remove(nodeFolder(rec.plan.backupId, node));
  } catch (err) {
    problems.push(`${rec.plan.backupId}/${node}: ${errorMessage(err)}`);
  }
  await rm(workDir, { recursive: true, force: true });
  return problems;
}

/** True when the backup's set has its manifest, or when that cannot be told (then nothing is undone). */
export async function setIsComplete(rec: BackupRecord, destination: Destination, log: Logger): Promise<boolean> {
  try {
    return (await destination.stat(manifestPath(rec.plan.backupId))) !== null;
  } catch (err) {
    log.error({ backupId: rec.plan.backupId, err: errorMessage(err) }, 'cannot tell whether the set is complete; its parts are kept');
    return true;
  }
}

/**
 * An Abort that left debris did not finish: the caller hears it as an error (and its coordinator
 * keeps the run open to send the Abort again) rather than a clean ABORTED.
 */
export function undone(rec: BackupRecord): BackupRecord {
  if (!rec.debris?.length) return rec;
  throw new PreconditionError(`backup ${rec.plan.backupId} is aborted on this node, but its undo left: ${rec.debris.join('; ')}; send Abort again once that is reachable`);
}
