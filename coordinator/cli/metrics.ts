/** `--metrics-file FILE` of `tandem backup` and `tandem drill`: what each run writes to the textfile. */
import { errorMessage } from '../../shared/errors';
import type { Destination } from '../../shared/destination';
import { listBackupSets } from '../sets/catalog';
import { setTrustOf } from '../signing';
import type { BackupOutcome } from '../backup/two-phase';
import type { FleetConfig } from '../config';
import type { PruneReport } from '../retention/prune';
import { fleetLabel, updateMetricsFile, type Sample } from '../metrics-file';
import { say } from './common';

/** The option both verbs accept. */
export const metricsFileOption = { 'metrics-file': { type: 'string' } } as const;

/** Its help line. */
export const METRICS_FILE_HELP = `      --metrics-file FILE write this run's results for node_exporter's textfile collector into
                          FILE (e.g. /var/lib/node_exporter/textfile_collector/tandem.prom),
                          keeping the file's other lines; atomic (temporary file + rename)`;

/** Writes the samples; a metrics file that cannot be written is reported and does not change the exit code. */
function write(file: string, configFile: string, fleet: FleetConfig, samples: Sample[], replace: Parameters<typeof updateMetricsFile>[3] = []): void {
  try {
    updateMetricsFile(file, fleetLabel(configFile, fleet.name), samples, replace);
  } catch (err) {
    say(`warning: could not write the metrics file ${file}: ${errorMessage(err)}`);
  }
}

/** After a backup run: its outcome, and what the destination (the one the run opened) holds now. */
export async function recordBackup(file: string, configFile: string, fleet: FleetConfig, destination: Destination, outcome: BackupOutcome, startedMs: number): Promise<void> {
  const samples: Sample[] = [
    { name: 'tandem_backup_last_run_success', value: outcome.status === 'complete' ? 1 : 0 },
    { name: 'tandem_backup_last_run_start_timestamp_seconds', value: startedMs / 1000 },
    { name: 'tandem_backup_last_run_duration_seconds', value: outcome.durationMs / 1000 },
    { name: 'tandem_backup_last_run_bytes', value: outcome.status === 'complete' ? outcome.bytes : 0 },
    { name: 'tandem_backup_last_run_unreachable_agents', value: outcome.unreachable.length },
  ];
  if (outcome.snapshotSpreadMs !== null) samples.push({ name: 'tandem_backup_last_run_snapshot_spread_seconds', value: outcome.snapshotSpreadMs / 1000 });
  if (outcome.crossStoreSpreadMs !== null) samples.push({ name: 'tandem_backup_last_run_cross_store_spread_seconds', value: outcome.crossStoreSpreadMs / 1000 });
  try {
    const sets = await listBackupSets(destination, setTrustOf(fleet));
    const complete = sets.filter((s) => s.status === 'complete');
    // A pruned folder is no set: it only stores files of kept ones.
    const incomplete = sets.filter((s) => s.status === 'incomplete' || s.status === 'unreadable');
    // An untrusted set is no backup: it is counted apart, for an alert to ask who wrote it.
    const untrusted = sets.filter((s) => s.status === 'untrusted');
    samples.push(
      { name: 'tandem_backup_sets', labels: { status: 'complete' }, value: complete.length },
      { name: 'tandem_backup_sets', labels: { status: 'incomplete' }, value: incomplete.length },
      { name: 'tandem_backup_sets', labels: { status: 'untrusted' }, value: untrusted.length },
    );
    const newest = Math.max(...complete.map((s) => Date.parse(s.completedAt ?? '')).filter(Number.isFinite));
    if (Number.isFinite(newest)) samples.push({ name: 'tandem_backup_last_complete_timestamp_seconds', value: newest / 1000 });
  } catch (err) {
    // The previous values of these stay in the file; the run's own samples are still written.
    say(`warning: could not list the destination for the metrics file: ${errorMessage(err)}`);
  }
  write(file, configFile, fleet, samples);
}

/** After a prune: the sets kept, and whether it finished. */
export function recordPrune(file: string, configFile: string, fleet: FleetConfig, report: PruneReport): void {
  write(file, configFile, fleet, [
    { name: 'tandem_sets_kept', value: report.kept.length },
    { name: 'tandem_prune_last_run_success', value: report.ok ? 1 : 0 },
    { name: 'tandem_prune_last_run_timestamp_seconds', value: Date.now() / 1000 },
    { name: 'tandem_prune_last_run_removed_sets', value: report.removed.filter((r) => r.result !== 'failed').length + report.incomplete.filter((i) => i.removed).length },
  ]);
}

/** After a drill: passed or not, and the restore's duration when it got that far. */
export function recordDrill(file: string, configFile: string, fleet: FleetConfig, ok: boolean, startedMs: number, restoreMs: number | null): void {
  const samples: Sample[] = [
    { name: 'tandem_drill_last_run_success', value: ok ? 1 : 0 },
    { name: 'tandem_drill_last_run_start_timestamp_seconds', value: startedMs / 1000 },
  ];
  if (restoreMs !== null) samples.push({ name: 'tandem_drill_last_restore_duration_seconds', value: restoreMs / 1000 });
  write(file, configFile, fleet, samples, ['tandem_drill_last_restore_duration_seconds']);
}
