/**
 * The plug-in interface every role (cassandra, elasticsearch, files) implements. The backup
 * protocol only ever talks to roles through it, so a role slots in without touching the protocol.
 */
import type { Destination } from '../../shared/destination';
import type { ParentSet } from '../backup/parent';
import type { RoleSpan } from '../backup/timeline';
import type { Logger } from '../../shared/log';
import type { Manifest } from '../../shared/manifest';
import type { FileRef, ListedTotals, PartRole } from '../../shared/parts';
import type { FileCheck, IndexDocuments, TableRows } from '../../shared/generated/tandem/v2/agent';
import type { BackupOptions } from '../../shared/wire/backup-options';
import type { RestoreOptions } from '../../shared/wire/restore';
import type { RestorePhase } from '../../shared/contract';

export type { RestorePhase } from '../../shared/contract';
import type { ProgressCounts } from '../../shared/progress';

/** One check of a role: a failed check makes the agent vote no, with the message as the reason. */
export interface CheckResult {
  name: string;
  ok: boolean;
  message: string;
}

/** Progress of the role's current step, streamed to the coordinator. */
export type ProgressUpdate = ProgressCounts;

/** Everything a role needs to know about the backup at hand. */
export interface RoleContext {
  /** The backup set id, also the name of the backup's folder at the destination. */
  backupId: string;
  /** Snapshot tag used on every node. */
  tag: string;
  /** This agent's node name in the fleet. */
  node: string;
  /** Backup options from the coordinator, validated. */
  options: Readonly<BackupOptions>;
  /** Where the role ships its parts. */
  destination: Destination;
  /**
   * The plaintext this agent kept of a small file it stored encrypted in an earlier set, when
   * `stored` (the `.age` file as the parent's manifest records it) is what it wrote; else null.
   * How a role reads an encrypted parent's contents.json without an identity.
   */
  localCopy?(stored: FileRef): Promise<Buffer | null>;
  /** The same as a local file (a files listing, read line by line), or null; the file is the agent's, to be read only. */
  localCopyFile?(stored: FileRef): Promise<string | null>;
  /** The complete set this backup builds on (store only what it lacks); null for a full backup. */
  parent: ParentSet | null;
  /** A private working folder for this backup and role, removed after cleanup. */
  workDir: string;
  /** Aborted when the backup is aborted or the agent stops. */
  signal: AbortSignal;
  /** Reports progress of the current step. */
  progress(update: ProgressUpdate): void;
  /** Adds a span to the backup's timeline (a table's archive, a snapshot, a copy), by this agent's clock. */
  span(span: RoleSpan): void;
  /** In the commit of a role that leads the cut (Role.leadsCut): its trigger has left; the other roles cut now. */
  cutStarted?(): void;
  log: Logger;
}

/** What ship stored: the role's part of the manifest (checked by the role's schema) and its files. */
export interface ShipResult {
  /** The role's part, as its schema in shared/parts describes it. */
  part: unknown;
  /** Every file the role stored at the destination, except the entries of its listings. */
  files: FileRef[];
  /** Files and bytes that the role's listings hold (attachments), beyond `files`. */
  listed?: ListedTotals;
  /** Files stored by earlier sets (`<set>/<node>/…`) that the part needs, with the set storing each. */
  references?: (FileRef & { set: string })[];
}

/** A role of an agent. Every method is idempotent: it may be called again after a crash or retry. */
export interface Role {
  /** The role's name as written in the configuration (cassandra, elasticsearch, files). */
  readonly name: PartRole;
  /** Versions of the tools and servers the role uses, for Describe and the manifest. */
  versions(): Promise<Record<string, string>>;
  /** Read-only checks; any failure is a "no" vote. */
  preflight(ctx: RoleContext): Promise<CheckResult[]>;
  /** Slow set-up done before the vote, so that commit is fast (a warmed JMX client...). */
  prepare(ctx: RoleContext): Promise<void>;
  /**
   * True for a role whose cut must leave first on every node (Cassandra's snapshot, which sets the
   * set's spread across nodes): the others' cuts wait until its commit calls ctx.cutStarted() or ends.
   */
  readonly leadsCut?: boolean;
  /** Takes the cut now (snapshot); returns the record of it (the role's commit schema), stored in the manifest. */
  commit(ctx: RoleContext): Promise<unknown>;
  /** Ships what commit cut to the destination; `commitRecord` is what commit returned, checked. */
  ship(ctx: RoleContext, commitRecord: unknown): Promise<ShipResult>;
  /** Releases local resources (clears the snapshot, stops helpers); runs after ship and after abort. */
  cleanup(ctx: RoleContext): Promise<void>;
  /** Undoes what was shipped (partial uploads, a started Elasticsearch snapshot). */
  abort(ctx: RoleContext): Promise<void>;
  /** At agent start-up: removes debris of backups the agent no longer runs (stale snapshot tags). */
  recover(activeTag: string | null, log: Logger): Promise<void>;
  /**
   * Whether the role's dependency answers now (Cassandra's JMX, Elasticsearch, the file store), for
   * the gRPC health service: resolves when it does, rejects with what is wrong. Cheap and read-only;
   * gives up when `signal` aborts (the probe's deadline). A role without it is always serving.
   */
  health?(signal: AbortSignal): Promise<void>;
}

/** A role whose snapshots live outside the destination (Elasticsearch's repository) and are deleted with their set. */
export interface SnapshotDeleter {
  /** Deletes the snapshot `snapshot` of `repository` (checked: the role's own repository, tandem's naming); false when it was already absent. */
  deleteSnapshot(repository: string, snapshot: string): Promise<boolean>;
}

/** True when the role can delete its snapshots. */
export function isSnapshotDeleter(role: Role): role is Role & SnapshotDeleter {
  return typeof (role as Partial<SnapshotDeleter>).deleteSnapshot === 'function';
}

/** Everything a role needs to restore its part of a backup set on this node. */
export interface RestoreContext {
  restoreId: string;
  backupId: string;
  node: string;
  /** The backup set's manifest, read by the agent and checked against the coordinator's digest. */
  manifest: Manifest;
  /** Where the backup set is read from. */
  destination: Destination;
  /** What this node does in the restore, validated. */
  options: Readonly<RestoreOptions>;
  /** A private working folder for this restore and role, kept until the cleanup phase. */
  workDir: string;
  signal: AbortSignal;
  progress(update: ProgressUpdate): void;
  log: Logger;
}

/** What one role did in one restore phase: the protocol's PhaseReport without role and ran. */
export interface PhaseOutcome {
  /** The verdict; false when a verify found differences. Default true. */
  ok?: boolean;
  problems?: string[];
  /** Problems in all, when `problems` holds only the first ones. */
  problemCount?: number;
  /** One line for the operator. */
  detail?: string;
  tables?: TableRows[];
  indices?: IndexDocuments[];
  files?: FileCheck;
}

/** A role that can restore its part. Every phase is idempotent, so a crashed restore resumes by running it again. */
export interface RestorableRole extends Role {
  /** Runs one phase; returns what it did (counts, problems), shown to the operator. Nothing to do → null. */
  restore(phase: RestorePhase, ctx: RestoreContext): Promise<PhaseOutcome | null>;
}

/** True when the role implements restore. */
export function isRestorable(role: Role): role is RestorableRole {
  return typeof (role as Partial<RestorableRole>).restore === 'function';
}
