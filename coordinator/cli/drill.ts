/** `tandem drill <id>`: restore into a scratch target, verify, tear down, report the restore time. */
import { parseArgs } from 'node:util';
import { readManifestAndDigest } from '../sets/read-manifest';
import { openDestination } from '../../shared/destination';
import { checkBackupId, checkCqlName, newBackupId } from '../../shared/names';
import { restoreOptionsSchema } from '../../shared/wire/restore';
import { nodesWith } from '../../shared/manifest';
import { latestComplete } from '../sets/catalog';
import { verifyBackupSet } from '../sets/verify';
import { setTrustOf } from '../signing';
import { planRestore } from '../restore/plan';
import { backupIdArgument, checkArg, EXIT, FLEET_OPTIONS_HELP, fleetOptions, matches, openFromConfig, say } from './common';
import { resumeArgs, watchedRestore } from './restore-run';
import { setIdentitiesFor } from '../keys/set-identity';
import type { CheckedManifest } from '../restore/run';
import { METRICS_FILE_HELP, metricsFileOption, recordDrill } from './metrics';
import { printVerifySummary } from './verify-summary';
import { restoreModel, writeReport } from '../report';
import { outputFile } from './report';

export const DRILL_HELP = `Usage: tandem drill ID|latest [options]

A restore drill that leaves production alone: checks the set, restores Cassandra into a scratch
keyspace (<keyspace>_drill), the indices under the prefix drill-, the files into a scratch
folder on the files host, verifies counts and checksums, then drops the scratch copy.

Options:
      --scratch-dir DIR   folder for the scratch files on the files host; default /var/tmp/tandem-drill
      --keep              keep the scratch copy for inspection
      --report FILE       write the drill's timeline (each phase on each node, sizes, rates)
                          as one self-contained HTML page, whatever its outcome
      --restore-id ID     resume an interrupted drill (same set, --scratch-dir and --keep;
                          tandem status prints the command)
      --identity FILE     age identity file (mode 600) that opens an encrypted set's key;
                          default the fleet file's encryption.identity
${METRICS_FILE_HELP}
${FLEET_OPTIONS_HELP}

\`latest\` drills the most recently completed set (systemd/tandem-drill.timer runs it weekly).

Exit: 0 the backup set restores and verifies, 1 it does not, 130 interrupted (SIGINT or SIGTERM;
a second one exits at once).`;

const DRILL_OPTIONS = {
  ...fleetOptions,
  ...metricsFileOption,
  'scratch-dir': { type: 'string', default: '/var/tmp/tandem-drill' },
  keep: { type: 'boolean', default: false },
  report: { type: 'string' },
  'restore-id': { type: 'string' },
  identity: { type: 'string' },
} as const;

/** Runs the verb; returns the exit code. */
export async function drillCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: DRILL_OPTIONS,
    strict: true,
  });
  if (values.help) return void console.log(DRILL_HELP), EXIT.ok;
  const wanted = backupIdArgument('drill', positionals, true);
  const scratch = checkArg('--scratch-dir', values['scratch-dir'], matches(restoreOptionsSchema.shape.filesTarget.unwrap()))!;
  const reportFile = checkArg('--report', values.report, outputFile);
  const chosenRestoreId = checkArg('--restore-id', values['restore-id'], checkBackupId);
  const { fleet, agents } = openFromConfig(values);
  const destination = openDestination(fleet.destination);
  const startedMs = Date.now();
  // Written once, whichever way the drill ends (a missing or damaged set is a failed drill).
  let result: { ok: boolean; restoreMs: number | null } = { ok: false, restoreMs: null };
  try {
    const trust = setTrustOf(fleet);
    const id = wanted === 'latest' ? await latestComplete(destination, trust) : wanted;
    const checked: CheckedManifest = await readManifestAndDigest(destination, id, trust);
    const { manifest } = checked;
    const keyspace = nodesWith(manifest, 'cassandra').flatMap((n) => n.parts.cassandra.keyspaces)[0] ?? 'thehive';
    const restoreId = chosenRestoreId ?? `drill-${newBackupId().slice('tandem-'.length)}`;
    const plan = planRestore(manifest, fleet.agents, {
      targetKeyspace: checkCqlName(`${keyspace}_drill`),
      indexPrefix: 'drill-',
      filesTarget: `${scratch}/${restoreId}`,
      // A bucket set's objects go to a scratch bucket named after the drill, never into TheHive's.
      filesBucket: nodesWith(manifest, 'files')[0]?.parts.files.store === 's3' ? restoreId : undefined,
      dropKeyspace: true,
      dropScratch: !values.keep,
    });
    say(`drill of backup set ${id}:`);
    for (const l of plan.lines) say(`  - ${l}`);
    // Opened before anything runs: a wrong identity changes nothing on any node.
    checked.setIdentities = await setIdentitiesFor(destination, manifest, fleet.encryption, values.identity);
    const check = await verifyBackupSet(destination, id, { es: { agents, destination: fleet.destination }, manifest: checked });
    if (!check.ok) {
      say(`the backup set is damaged:\n  ${check.problems.join('\n  ')}`);
      if (values.json) console.log(JSON.stringify({ id, ok: false, problems: check.problems }));
      return EXIT.failed;
    }
    say(`drill restore id ${restoreId} (rerun with --restore-id ${restoreId} to resume)`);
    const resume = resumeArgs('drill', argv, DRILL_OPTIONS, id, restoreId);
    const outcome = await watchedRestore(fleet, agents, checked, plan, { restoreId, kind: 'drill', resume });
    result = { ok: outcome.ok, restoreMs: outcome.durationMs };
    if (outcome.interrupted) {
      if (values.json) console.log(JSON.stringify({ id, restoreId, ok: false, interrupted: true, problems: outcome.problems }));
      return EXIT.interrupted;
    }
    const report = { id, restoreId, ok: outcome.ok, restoreMs: outcome.durationMs, problems: outcome.problems, verify: outcome.results.verify ?? null };
    if (values.json) console.log(JSON.stringify(report));
    if (reportFile) for (const f of await writeReport(restoreModel(manifest, outcome, 'drill'), { html: reportFile })) say(`report of ${restoreId} written to ${f}`);
    printVerifySummary(outcome.results.verify ?? {});
    say(outcome.ok ? `drill passed: backup set ${id} restored and verified in ${(outcome.durationMs / 1000).toFixed(1)} s` : `drill FAILED:\n  ${outcome.problems.join('\n  ')}`);
    return outcome.ok ? EXIT.ok : EXIT.failed;
  } finally {
    agents.forEach((a) => a.close());
    if (values['metrics-file']) recordDrill(values['metrics-file'], values.config!, fleet, result.ok, startedMs, result.restoreMs);
  }
}
