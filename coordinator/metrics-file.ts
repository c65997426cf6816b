/**
 * The coordinator is a batch job: instead of serving metrics it writes them, after each run, to a
 * node_exporter textfile (`--metrics-file`, e.g. /var/lib/node_exporter/textfile_collector/tandem.prom).
 * Every sample carries the fleet's label; a run replaces only its own samples and keeps the rest
 * of the file (another fleet's lines, the drill's lines after a backup and the other way round).
 * The file is written to a temporary name in the same folder and renamed: node_exporter never
 * reads half a file.
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** One metric the coordinator writes. */
interface MetricDef {
  help: string;
  type: 'gauge';
}

/** Everything the coordinator may write, by name. Timestamps are Unix seconds. */
export const COORDINATOR_METRICS = {
  tandem_backup_last_run_success: { help: 'Whether the last tandem backup run of the fleet made a complete set (1) or not (0)', type: 'gauge' },
  tandem_backup_last_run_start_timestamp_seconds: { help: 'When the last tandem backup run of the fleet started', type: 'gauge' },
  tandem_backup_last_run_duration_seconds: { help: 'How long the last tandem backup run of the fleet took', type: 'gauge' },
  tandem_backup_last_run_bytes: { help: 'Bytes of the set the last tandem backup run made (0 when it did not complete)', type: 'gauge' },
  tandem_backup_last_run_snapshot_spread_seconds: { help: 'Time between the first and the last node snapshot of the last complete run', type: 'gauge' },
  tandem_backup_last_run_cross_store_spread_seconds: { help: 'Time between the first and the last cut of any store (Cassandra, Elasticsearch, files) in the last complete run', type: 'gauge' },
  tandem_backup_last_run_unreachable_agents: { help: 'Agents that did not answer at the start of the last tandem backup run', type: 'gauge' },
  tandem_backup_sets: { help: 'Backup sets at the destination after the last run, by status (complete, incomplete: no manifest or an unreadable one)', type: 'gauge' },
  tandem_backup_last_complete_timestamp_seconds: { help: 'When the newest complete backup set at the destination was completed', type: 'gauge' },
  tandem_sets_kept: { help: 'Complete backup sets the last tandem prune of the fleet kept', type: 'gauge' },
  tandem_prune_last_run_success: { help: 'Whether the last tandem prune of the fleet removed everything it had to (1) or left a set for the next prune (0)', type: 'gauge' },
  tandem_prune_last_run_timestamp_seconds: { help: 'When the last tandem prune of the fleet ended', type: 'gauge' },
  tandem_prune_last_run_removed_sets: { help: 'Backup sets the last tandem prune of the fleet removed or marked pruned, incomplete ones included', type: 'gauge' },
  tandem_drill_last_run_success: { help: 'Whether the last restore drill of the fleet restored and verified (1) or not (0)', type: 'gauge' },
  tandem_drill_last_run_start_timestamp_seconds: { help: 'When the last restore drill of the fleet started', type: 'gauge' },
  tandem_drill_last_restore_duration_seconds: { help: 'How long the restore of the last drill took (absent when it did not reach the restore)', type: 'gauge' },
} as const satisfies Record<string, MetricDef>;

/** A metric name the coordinator writes. */
export type CoordinatorMetric = keyof typeof COORDINATOR_METRICS;

/** One sample to write. */
export interface Sample {
  name: CoordinatorMetric;
  labels?: Record<string, string>;
  value: number;
}

/** The fleet's label: the fleet file's `name`, else the file's name without its extension. */
export function fleetLabel(fleetFile: string, name?: string): string {
  return name ?? basename(fleetFile, extname(fleetFile));
}

/** A label value in the exposition format (backslash, quote and newline escaped). */
const labelValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The sample's series as written: `name{fleet="x",status="complete"}`. */
function series(name: string, labels: Record<string, string>): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',');
  return l ? `${name}{${l}}` : name;
}

/** A file's samples by metric, each metric's series in order; lines that are not samples are dropped. */
function readSamples(file: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\d+)?$/.exec(line.trim());
    if (!m) continue;
    const [, name, labels = '', value] = m;
    if (!out.has(name)) out.set(name, new Map());
    out.get(name)!.set(name + labels, value);
  }
  return out;
}

/**
 * Writes these samples of one fleet into the textfile, keeping what else it holds. A metric of
 * `replace` that this run has no value for (a drill that never reached its restore) is removed
 * for this fleet rather than left with an older run's value.
 */
export function updateMetricsFile(file: string, fleet: string, samples: readonly Sample[], replace: readonly CoordinatorMetric[] = []): void {
  const all = readSamples(file);
  const mine = `fleet="${labelValue(fleet)}"`;
  for (const name of replace) {
    const kept = all.get(name);
    for (const key of kept?.keys() ?? []) if (key.includes(`{${mine}`) || key.includes(`,${mine}`)) kept!.delete(key);
  }
  for (const s of samples) {
    if (!all.has(s.name)) all.set(s.name, new Map());
    const key = series(s.name, { fleet, ...s.labels });
    all.get(s.name)!.set(key, Number.isFinite(s.value) ? String(s.value) : 'NaN');
  }
  const lines: string[] = [];
  for (const [name, rows] of [...all].sort(([a], [b]) => a.localeCompare(b))) {
    if (!rows.size) continue;
    const def = (COORDINATOR_METRICS as Record<string, MetricDef>)[name];
    if (def) lines.push(`# HELP ${name} ${def.help}`, `# TYPE ${name} ${def.type}`);
    for (const [key, value] of [...rows].sort(([a], [b]) => a.localeCompare(b))) lines.push(`${key} ${value}`);
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, lines.join('\n') + '\n', { mode: 0o644 });
    // node_exporter runs as another user: readable whatever the unit's umask.
    chmodSync(tmp, 0o644);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
