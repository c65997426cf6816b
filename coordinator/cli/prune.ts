/** `tandem prune`: removes the backup sets the retention policy does not keep, and old incomplete ones. */
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { loadFleetConfig } from '../config';
import { Journal } from '../backup/journal';
import { acquireBackupLock, type BackupLock } from '../backup/lock';
import type { ConflictError } from '../../shared/errors';
import { acquireDestinationLock, type DestinationLock } from '../backup/destination-lock';
import { prune, type PruneReport, type PruneTarget } from '../retention/prune';
import { signingOf } from '../signing';
import { EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say } from './common';
import { METRICS_FILE_HELP, metricsFileOption, recordPrune } from './metrics';
import { KEEP_OPTIONS_HELP, keepOptions, retentionPolicy } from './retention-args';

/** What every removal verb shares in its help: the rules and the exit codes. */
export const REMOVAL_RULES_HELP = `Never removed: a file that a kept set needs (its own files, the earlier sets' archives it
references, the attachments its listings name, wherever they are stored), the newest complete
set, a set while a backup runs (the run holds <stateDir>/backup.lock for its whole length, so
a backup cannot pick a parent being removed: a running backup makes this exit 1, naming it).

Order for each set, safe against a kill at any instant (the next prune finishes the job): it is
marked pruned (<id>/pruned.json), its Elasticsearch snapshot is deleted by the agent with the
elasticsearch role, its manifest removed, then every file no kept set needs. A folder whose
files later sets still reference stays, marked, as their store ('tandem list --all' shows it).`;

export const PRUNE_HELP = `Usage: tandem prune [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [options]

Removes the complete backup sets that the retention policy does not keep, and incomplete sets
(no manifest) that no backup can still be writing. restic's rules, on the sets' completedAt in
UTC: keep-last N keeps the N newest; keep-daily N the newest set of each of the last N days
that have a set; keep-weekly N the same per ISO week, keep-monthly N per month. A set kept by
any rule is kept; the newest set always is. Without --keep-* flags the fleet file's retention
block applies (any flag replaces the whole block): retention: {keep_daily: 7, keep_weekly: 4}.

An incomplete set is removed only when this coordinator's journal has no unfinished run for it
(tandem recover decides those) and when it is older than prepareTimeoutMs + leaseMs +
shipTimeoutMs + 1 h, by the newest change of its files and the time its generated id names,
whichever is younger; a set whose age cannot be told stays.

${REMOVAL_RULES_HELP}

Options:
${KEEP_OPTIONS_HELP}
      --dry-run           say what would be removed, remove nothing
${METRICS_FILE_HELP}
${FLEET_OPTIONS_HELP}

Only sets whose manifest is signed by a trusted key count: an untrusted set (see tandem list)
is neither counted nor removed, and a pruned.json without a trusted signature is ignored; both
are reported.

--json prints {dryRun, ok, kept[], removed[], incomplete[], unreadable[], untrusted[], ignoredMarkers[]}.
Exit: 0 done, 1 a set could not be removed (the next prune finishes it) or another backup or
prune holds the lock, 2 usage or configuration error (nothing removed).`;

/** Margin beyond a backup's own deadlines before its incomplete folder is taken for debris: 1 h. */
const INCOMPLETE_MARGIN_MS = 3_600_000;

/** Runs the verb; returns the exit code. */
export async function pruneCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...fleetOptions, ...metricsFileOption, ...keepOptions, 'dry-run': { type: 'boolean', default: false } }, strict: true });
  if (values.help) return void console.log(PRUNE_HELP), EXIT.ok;
  // The policy is checked before any agent is contacted or lock taken: bad input changes nothing.
  const policy = retentionPolicy(values, loadFleetConfig(values.config!), values.config!);
  return runRemoval(values, { kind: 'prune', policy });
}

/** Runs a prune or a delete with the fleet's lock, agents and journal; prints the report; returns the exit code. */
export async function runRemoval(
  values: { config?: string; insecure?: boolean; json?: boolean; 'dry-run'?: boolean; 'metrics-file'?: string },
  target: PruneTarget,
): Promise<number> {
  const { fleet, agents } = openFromConfig(values);
  const dryRun = Boolean(values['dry-run']);
  const signing = signingOf(fleet);
  let lock: BackupLock | undefined;
  let destLock: DestinationLock | undefined;
  const destination = openDestination(fleet.destination);
  try {
    // A dry run changes nothing: it needs no lock. A real one holds both from the first read to the last removal.
    if (!dryRun) {
      lock = acquireBackupLock(fleet.stateDir, target.kind, (w) => say(`warning: ${w}`));
      destLock = await acquireDestinationLock(destination, { verb: target.kind, stateDir: fleet.stateDir, warn: (w) => say(`warning: ${w}`), onLost: stopOnLostLock });
    }
    const unfinished = new Journal(fleet.stateDir).unfinished((w) => say(`warning: ${w}`));
    const openRuns = new Set(unfinished.map((e) => e.backupId));
    const openParents = new Map(unfinished.flatMap((e) => (e.parent ? [[e.parent, e.backupId] as const] : [])));
    const b = fleet.backup;
    const report = await prune(destination, {
      target,
      dryRun,
      openRuns,
      openParents,
      incompleteGraceMs: b.prepareTimeoutMs + b.leaseMs + b.shipTimeoutMs + INCOMPLETE_MARGIN_MS,
      agents,
      say,
      trust: { keys: signing.trusted },
      signingKey: signing.key,
    });
    if (values['metrics-file'] && !dryRun && target.kind === 'prune') recordPrune(values['metrics-file'], values.config!, fleet, report);
    if (values.json) console.log(JSON.stringify(report));
    printReport(report);
    return report.ok ? EXIT.ok : EXIT.failed;
  } finally {
    agents.forEach((a) => a.close());
    await destLock?.release();
    lock?.release();
  }
}

/**
 * Another coordinator holds the destination now: stop at once rather than remove one more file
 * under its feet. What was removed stays removed; the next prune or delete finishes the rest,
 * as after a crash. The state folder's lock goes with the process (its exit handler).
 */
export function stopOnLostLock(err: ConflictError): never {
  say(`error: ${err.message}; the next run finishes what this one started`);
  process.exit(EXIT.failed);
}

/** The report for a person, on stderr (stdout stays for --json). */
function printReport(r: PruneReport): void {
  const would = r.dryRun ? 'would be ' : '';
  say(`${r.kept.length} complete set(s) kept:`);
  for (const k of r.kept) say(`  ${k.id}  ${k.completedAt}  ${k.reasons.join(', ')}`);
  const removed = r.removed.filter((x) => x.result === 'removed');
  const held = r.removed.filter((x) => x.result === 'held');
  const failed = r.removed.filter((x) => x.result === 'failed');
  if (removed.length) say(`${removed.length} set(s) ${would}removed: ${removed.map((x) => x.id).join(', ')}`);
  for (const h of held) say(`${h.id} ${would}pruned; its folder keeps ${h.heldFiles} file(s) of later sets`);
  for (const i of r.incomplete) say(`incomplete ${i.id}: ${i.removed ? `${would}removed (${i.reason})` : `kept: ${i.reason}`}`);
  for (const u of r.unreadable) say(`unreadable ${u.id}: left as it is (${u.problem})`);
  for (const u of r.untrusted) say(`untrusted ${u.id}: not counted, left as it is (${u.reason}: ${u.problem})`);
  for (const m of r.ignoredMarkers) say(`${m.id}: ${m.problem}; look at who wrote it`);
  for (const f of failed) say(`${f.id}: not finished: ${f.error}`);
  if (!r.removed.length && !r.incomplete.some((i) => i.removed)) say(`nothing ${would}removed`);
}
