/**
 * The names the agent and the coordinator agree on: roles, restore phases, archive compressions.
 * One list each; configuration schemas, request checks, CLI checks and types derive from them.
 */

/** The production roles, in the order an agent builds and runs them. */
export const ROLE_NAMES = ['cassandra', 'elasticsearch', 'files'] as const;
/** A production role's name, as written in agent.yaml and the fleet file. */
export type RoleName = (typeof ROLE_NAMES)[number];

/**
 * Every restore phase, in order. `check` changes nothing: it confirms what lives outside the
 * destination (the Elasticsearch snapshot in its repository) for `tandem verify`; a restore runs
 * the others, each on every node before the next (a barrier).
 */
export const RESTORE_PHASES = ['check', 'fetch', 'schema', 'load', 'verify', 'cleanup'] as const;
/** One restore phase. */
export type RestorePhase = (typeof RESTORE_PHASES)[number];

/** The phases a restore runs, in order: all but check. */
export const RESTORE_RUN_PHASES = RESTORE_PHASES.filter((p): p is Exclude<RestorePhase, 'check'> => p !== 'check');

/**
 * After a restore phase ends well, an agent still counts the restore as running for this long, ms:
 * the coordinator starts the next phase once every node finished this one. EndRestore, sent when
 * the coordinator's run ends, drops the hold at once; only a coordinator that died keeps it.
 */
export const BETWEEN_PHASES_MS = 60_000;

/** Compressions of Cassandra table archives: bzip2 (.tbz, the default), xz (.txz), none (a plain .tar). */
export const COMPRESSIONS = ['bzip2', 'xz', 'none'] as const;
/** One archive compression. */
export type Compression = (typeof COMPRESSIONS)[number];

/** True when `value` names a compression. */
export function isCompression(value: string): value is Compression {
  return (COMPRESSIONS as readonly string[]).includes(value);
}
