/** `tandem backup`: one coordinated backup set of the whole fleet. */
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { checkBackupId, newBackupId } from '../../shared/names';
import { parseOptionFlags, type BackupOptions } from '../../shared/wire/backup-options';
import { Journal } from '../backup/journal';
import { acquireBackupLock, type BackupLock } from '../backup/lock';
import { acquireDestinationLock, type DestinationLock } from '../backup/destination-lock';
import { openDestination } from '../../shared/destination';
import type { ConflictError } from '../../shared/errors';
import { recoverRuns } from '../backup/recover';
import { runBackup } from '../backup/two-phase';
import { COMPRESSIONS, isCompression } from '../../shared/contract';
import { formatBytes } from '../../shared/format';
import { METRICS_FILE_HELP, metricsFileOption, recordBackup } from './metrics';
import { checkArg, EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say, UsageError } from './common';
import { backupProgress } from './progress';
import { watchInterrupt } from './interrupt';

export const BACKUP_HELP = `Usage: tandem backup [options]

Takes one backup set of the whole fleet: Prepare on every agent (checks, set-up, a lease),
Commit on all at once only if every vote is yes, Abort everywhere otherwise. The manifest is
written last; a set without one is never listed as a backup.

One backup at a time: the run holds <stateDir>/backup.lock (the fleet file's stateDir), and a
second 'tandem backup' with the same stateDir exits 1 at once, naming the running backup's id
and pid, before any RPC. A lock left by a process that is gone is taken over with a warning.
An id already used (anything under <id>/ at the destination, known to an agent, or in the
coordinator's journal) is refused before Prepare: a set that exists is never touched.

Each step is recorded in <stateDir>/journal/ before its first RPC; a backup whose coordinator
died is finished or removed by the next 'tandem backup' (before its own run) or 'tandem recover'.

A set builds on the newest complete set at the destination (its parent): each node archives
only the SSTables and copies only the attachments that the parent does not hold, and records
where the others are. A table is archived in full again when its chain would reference more
than max_chain earlier archives (default 7) or when more than max_removed_percent (default 50)
of the bytes it references were compacted away since. --full stores everything again.

Options:
      --id ID             use this backup id (default: tandem-<UTC time>-<random>)
      --full              store everything again instead of building on the newest set
      --compression ALG   bzip2 (default, .tbz), xz or none for Cassandra archives
      --repair            run 'nodetool repair <keyspace>' on each node before the snapshot
      --all-keyspaces     snapshot every keyspace, not only TheHive's
      --skip-index        leave the Elasticsearch index out (it must be rebuilt on restore)
      --option KEY=VALUE  a backup option (repeatable): compression=bzip2|xz|none, or
                          repair, all_keyspaces, skip_index, allow_low_rf, keep_snapshot,
                          allow_yellow =true|false, max_chain=N, max_removed_percent=N;
                          an unknown key or value exits 2
${METRICS_FILE_HELP}
${FLEET_OPTIONS_HELP}

Exit: 0 complete, 1 aborted or failed, or another backup holds the lock, 2 usage or
configuration error, 130 interrupted.`;

/**
 * Roles whose every stored file an encrypted set encrypts: all of them today (Elasticsearch's
 * snapshot through its staging repository). A role added without it is refused here, by name,
 * rather than written in clear.
 */
const ENCRYPTING_ROLES: ReadonlySet<string> = new Set(['cassandra', 'elasticsearch', 'files', 'rehearsal']);

/** Runs the verb; returns the exit code. */
export async function backupCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...fleetOptions,
      ...metricsFileOption,
      id: { type: 'string' },
      full: { type: 'boolean', default: false },
      compression: { type: 'string' },
      repair: { type: 'boolean', default: false },
      'all-keyspaces': { type: 'boolean', default: false },
      'skip-index': { type: 'boolean', default: false },
      option: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  if (values.help) return void console.log(BACKUP_HELP), EXIT.ok;
  // Checked first: an empty --id= is an error, not "make one up".
  const chosenId = checkArg('--id', values.id, checkBackupId);
  const options: Partial<BackupOptions> = parseOptionFlags(values.option ?? []);
  if (values.compression !== undefined) {
    if (!isCompression(values.compression)) throw new UsageError(`--compression must be one of ${COMPRESSIONS.join(', ')}`);
    options.compression = values.compression;
  }
  if (values.repair) options.repair = true;
  if (values['all-keyspaces']) options.allKeyspaces = true;
  if (values['skip-index']) options.skipIndex = true;
  const backupId = chosenId ?? newBackupId();
  const { fleet, agents } = openFromConfig(values);
  // One destination for the whole run: its lock, the recovery of dead runs, the run, its metrics.
  const destination = openDestination(fleet.destination);
  // Refused rather than written partly in clear: a fleet file that asks for encryption never gets
  // a set holding a role's files in clear without the operator knowing.
  if (fleet.encryption.mode === 'age') {
    const clear = [...new Set(fleet.agents.flatMap((a) => a.roles.filter((r) => !ENCRYPTING_ROLES.has(r)).map((r) => `${r} (${a.node})`)))];
    if (clear.length) {
      throw new UsageError(`${values.config}: encryption mode age is set, but this tandem does not encrypt the files of role ${clear.join(', ')}; remove the role from those agents or set encryption: {mode: none} to back up in clear`);
    }
  }
  // Live lines on a terminal, plain lines elsewhere; stopped before anything else is printed.
  const progress = backupProgress();
  // Ctrl-C, or SIGTERM from `systemctl stop`: the backup is aborted on every node; a second one exits at once.
  const interrupted = watchInterrupt((name) => {
    progress.stop();
    say(`interrupted by ${name}: aborting the backup on every node…`);
  });
  // The destination lock lost stops the run the same way.
  const lockLost = new AbortController();
  const signal = AbortSignal.any([interrupted.signal, lockLost.signal]);
  // Every call in flight listens on it, one per agent at once (Describe, Prepare, Watch): past 10,
  // Node printed a MaxListenersExceededWarning ("possible memory leak") in every run of a larger fleet.
  setMaxListeners(0, signal);
  let lock: BackupLock | undefined;
  let destLock: DestinationLock | undefined;
  let lost: ConflictError | undefined;
  try {
    // Taken before any RPC. Refused, it throws ConflictError: exit 1, not 2, because the command
    // and the fleet file are right and the same command succeeds once the other backup has ended.
    lock = acquireBackupLock(fleet.stateDir, backupId, (warning) => say(`warning: ${warning}`));
    // Then the destination's, which coordinators of other hosts and state folders see too.
    destLock = await acquireDestinationLock(destination, {
      verb: 'backup',
      stateDir: fleet.stateDir,
      warn: (warning) => say(`warning: ${warning}`),
      onLost: (err) => {
        lost = err;
        progress.stop();
        say(`error: ${err.message}; aborting the backup on every node…`);
        lockLost.abort(err);
      },
    });
    // A run whose coordinator died is finished or removed first (its agents may still hold a
    // snapshot or a part); one that cannot be decided yet does not stop tonight's backup.
    const journal = new Journal(fleet.stateDir);
    await recoverRuns(fleet, destination, agents, journal, say);
    const startedMs = Date.now();
    const outcome = await runBackup(fleet, destination, agents, progress, { backupId, options, signal, journal, full: values.full }).finally(() => progress.stop());
    if (values['metrics-file']) await recordBackup(values['metrics-file'], values.config!, fleet, destination, outcome, startedMs);
    if (values.json) console.log(JSON.stringify(outcome));
    if (outcome.status === 'complete') {
      say(`backup ${outcome.id} complete: ${formatBytes(outcome.bytes)} in ${(outcome.durationMs / 1000).toFixed(1)} s` +
        (outcome.parent ? `, built on ${outcome.parent}` : ', full') +
        (outcome.snapshotSpreadMs !== null ? `, snapshots ${outcome.snapshotSpreadMs} ms apart` : '') +
        (outcome.crossStoreSpreadMs != null && outcome.crossStoreSpreadMs !== outcome.snapshotSpreadMs ? `, ${outcome.crossStoreSpreadMs} ms across stores` : ''));
      return EXIT.ok;
    }
    say(`backup ${outcome.id} ${outcome.status}: ${outcome.reason}`);
    return interrupted.signal.aborted && !lost ? EXIT.interrupted : EXIT.failed;
  } finally {
    interrupted.dispose();
    progress.stop();
    agents.forEach((a) => a.close());
    await destLock?.release();
    lock?.release();
  }
}
