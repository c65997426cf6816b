/**
 * What a role is handed for one backup (its RoleContext): the plan's tag and options, the
 * destination, the parent set, a work folder, a signal, and where its progress and timeline spans
 * go. The parent set is read once per backup, whichever role asks first, and kept until the
 * backup's ship step ends.
 */
import { join } from 'node:path';
import type { Destination, DestinationOpener } from '../../shared/destination';
import type { Logger } from '../../shared/log';
import type { ProgressUpdate, Role, RoleContext } from '../roles/role';
import { parentSet, type ParentSet } from './parent';
import { roleDestination } from './sealed-destination';
import { LocalCopies } from './local-copies';
import type { BackupRecord, PlanRecord } from './state';
import type { Timelines } from './timeline';

/** Where the parts of a role context come from, besides the backup's record and the role. */
export interface ContextSources {
  /** This agent's node name in the fleet. */
  node: string;
  /** The agent's state folder: each backup's work folder is `<stateDir>/work/<backup id>`. */
  stateDir: string;
  log: Logger;
  timelines: Timelines;
  /** Receives a role's progress report for a backup. */
  progress(backupId: string, role: string, update: ProgressUpdate): void;
  /** Opens the plan's destination with this agent's own keys (the plan carries none). */
  openDestination: DestinationOpener;
}

/** A copy of the record with one role's progress replaced by `update` (counts it leaves out are 0). */
export function withProgress(rec: BackupRecord, role: string, update: ProgressUpdate, now: number): BackupRecord {
  const entry = { role, bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, ...update };
  const progress = [...rec.progress.filter((p) => p.role !== role), entry];
  return { ...rec, progress, updatedAt: now };
}

/** Makes the role contexts of this agent's backups, and keeps their parent sets while they ship. */
export class RoleContexts {
  /** Parent sets read for backups still shipping, by `<backup id>/<parent id>`. */
  private readonly parents = new Map<string, ParentSet>();

  /** Plaintext copies of the small files of this agent's latest encrypted sets. */
  private readonly copies: LocalCopies;

  constructor(private readonly sources: ContextSources) {
    this.copies = new LocalCopies(join(sources.stateDir, 'sealed'));
  }

  /** The context of `role` for the backup `rec`, whose running work `signal` aborts. */
  of(rec: BackupRecord, role: Role, signal: AbortSignal): RoleContext {
    const { node, log, timelines } = this.sources;
    const destination = this.destination(rec.plan);
    return {
      backupId: rec.plan.backupId,
      tag: rec.plan.tag,
      node,
      options: rec.plan.options,
      // An encrypted set's files are stored through the set's recipient; the parent is read as it is.
      destination: roleDestination(destination, rec.plan.options.setRecipient, this.copies),
      localCopy: (stored) => this.copies.read(stored),
      localCopyFile: (stored) => this.copies.fileFor(stored),
      parent: this.parentOf(rec, destination),
      workDir: join(this.workDir(rec.plan.backupId), role.name),
      signal,
      log: log.child({ backupId: rec.plan.backupId, role: role.name }),
      progress: (u) => this.sources.progress(rec.plan.backupId, role.name, u),
      span: (s) => timelines.add(rec.plan.backupId, { ...s, role: role.name }),
    };
  }

  /** The plan's destination, opened with this agent's keys. */
  destination(plan: PlanRecord): Destination {
    return this.sources.openDestination(plan.destination);
  }

  /** The backup's work folder on this agent; each role's own is a folder in it. */
  workDir(backupId: string): string {
    return join(this.sources.stateDir, 'work', backupId);
  }

  /** Forgets the parent sets read for this backup (its ship step ended). */
  forget(backupId: string): void {
    for (const k of this.parents.keys()) if (k.startsWith(`${backupId}/`)) this.parents.delete(k);
  }

  /** The backup's parent set, read once per backup whichever role asks first. */
  private parentOf(rec: BackupRecord, destination: Destination): ParentSet | null {
    const ref = rec.plan.parent;
    if (!ref) return null;
    const key = `${rec.plan.backupId}/${ref.backupId}`;
    let p = this.parents.get(key);
    if (!p) this.parents.set(key, (p = parentSet(ref, destination, this.sources.node)));
    return p;
  }
}
