/**
 * The plug-in interface every role (cassandra, elasticsearch, files) implements. The backup
 * protocol only ever talks to roles through it, so a role slots in without touching the protocol.
 */
import type { RestorePhase } from '../../shared/contract';
import type { Destination } from '../../shared/destination';
import type { Logger } from '../../shared/log';
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
  /** Backup options from the coordinator (compression, repair, skip_index...). */
  options: Readonly<Record<string, string>>;
  /** Where the role ships its parts. */
  destination: Destination;
  /** A private working folder for this backup and role, removed after cleanup. */
  workDir: string;
  /** Aborted when the backup is aborted or the agent stops. */
  signal: AbortSignal;
  /** Reports progress of the current step. */
  progress(update: ProgressUpdate): void;
  log: Logger;
}

/** A role of an agent. Every method is idempotent: it may be called again after a crash or retry. */
export interface Role {
  /** The role's name as written in the configuration (cassandra, elasticsearch, files). */
  readonly name: string;
  /** Versions of the tools and servers the role uses, for Describe and the manifest. */
  versions(): Promise<Record<string, string>>;
  /** Read-only checks; any failure is a "no" vote. */
  preflight(ctx: RoleContext): Promise<CheckResult[]>;
  /** Slow set-up done before the vote, so that commit is fast (a warmed JMX client...). */
  prepare(ctx: RoleContext): Promise<void>;
  /** Takes the cut now (snapshot); returns the record of it, stored in the manifest. */
  commit(ctx: RoleContext): Promise<unknown>;
  /** Ships what commit cut to the destination; returns the role's part of the manifest. */
  ship(ctx: RoleContext, commitRecord: unknown): Promise<unknown>;
  /** Releases local resources (clears the snapshot, stops helpers); runs after ship and after abort. */
  cleanup(ctx: RoleContext): Promise<void>;
  /** Undoes what was shipped (partial uploads, a started Elasticsearch snapshot). */
  abort(ctx: RoleContext): Promise<void>;
  /** At agent start-up: removes debris of backups the agent no longer runs (stale snapshot tags). */
  recover(activeTag: string | null, log: Logger): Promise<void>;
}

/** The phases of a restore (shared/contract.ts lists them, in order). */
export type { RestorePhase } from '../../shared/contract';

/** Everything a role needs to restore its part of a backup set on this node. */
export interface RestoreContext {
  restoreId: string;
  backupId: string;
  node: string;
  /** The backup set's manifest, checked by the coordinator against the destination. */
  manifest: import('../../shared/manifest').Manifest;
  /** Where the backup set is read from. */
  destination: Destination;
  /**
   * Restore options: target_keyspace, drop_keyspace=true, index_prefix, files_target,
   * cassandra_mode=import|sstableloader, cassandra_sources (comma-separated manifest nodes this
   * agent loads), cassandra_hosts (comma-separated CQL/loader hosts), schema=true (this node
   * recreates the schema), rebuild_index=true, source_node (the manifest node whose part is
   * restored when several have the role), files_bucket (drill bucket), files_clean=true (remove
   * files the backup does not hold), drop_scratch=true (cleanup drops the drill's index copies,
   * files_target folder or files_bucket objects).
   */
  options: Readonly<Record<string, string>>;
  /** A private working folder for this restore and role, kept until the cleanup phase. */
  workDir: string;
  signal: AbortSignal;
  progress(update: ProgressUpdate): void;
  log: Logger;
}

/** A role that can restore its part. Every phase is idempotent, so a crashed restore resumes by running it again. */
export interface RestorableRole extends Role {
  /** Runs one phase; returns what it did (counts, files), shown to the operator. Nothing to do → null. */
  restore(phase: RestorePhase, ctx: RestoreContext): Promise<unknown>;
}

/** True when the role implements restore. */
export function isRestorable(role: Role): role is RestorableRole {
  return typeof (role as Partial<RestorableRole>).restore === 'function';
}
