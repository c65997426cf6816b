/** `tandem restore <id>`: plan, confirm, then restore the backup set phase by phase. */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { RESTORE_RUN_PHASES } from '../../shared/contract';
import { openDestination } from '../../shared/destination';
import { checkBackupId, checkCqlName, newBackupId } from '../../shared/names';
import { parseReplicationFlag, restoreOptionsSchema } from '../../shared/wire/restore';
import { readManifestAndDigest } from '../sets/read-manifest';
import { verifyBackupSet } from '../sets/verify';
import { setTrustOf } from '../signing';
import { planRestore } from '../restore/plan';
import { backupIdArgument, checkArg, EXIT, FLEET_OPTIONS_HELP, fleetOptions, matches, openFromConfig, say, UsageError } from './common';
import { resumeArgs, watchedRestore } from './restore-run';
import { printLoadNotes, printVerifySummary } from './verify-summary';
import { restoreModel, writeReport } from '../report';
import { outputFile } from './report';
import { setIdentitiesFor } from '../keys/set-identity';
import type { CheckedManifest } from '../restore/run';

export const RESTORE_HELP = `Usage: tandem restore ID [options]

Restores a backup set: checks every part against the manifest first (nothing is dropped if a
checksum is wrong), prints the plan, then runs ${RESTORE_RUN_PHASES.join(' → ')} on every
node, each phase on all nodes before the next. Same node names as at backup time: each node
imports its own SSTables (nodetool import); another topology: sstableloader from one node.

Options:
      --dry-run             print the plan and stop
  -y, --yes                 do not ask for confirmation (required without a terminal)
      --drop-keyspace       drop the keyspace before recreating it (default: truncate its tables)
      --target-keyspace KS  restore into another keyspace
      --index-prefix P      restore indices as P<name> instead of over the originals
      --files-target DIR    restore files into DIR on the files host (a folder store's set)
      --files-bucket NAME   restore a bucket store's objects into bucket NAME (created when
                            missing) instead of TheHive's bucket
      --files-clean         remove files the backup does not hold from the target
      --sstableloader       use sstableloader even when the topology matches
      --replication DC:RF[,DC:RF]
                            the recreated keyspace's replication (another cluster
                            with fewer nodes or other datacenter names)
      --rebuild-index       have TheHive rebuild its index at its next start (adds
                            db.janusgraph.forceDropAndRebuildIndex = true to the
                            application.conf named by the elasticsearch role's theHiveConfig)
      --restore-id ID       resume an interrupted restore (same backup id and options;
                            an agent refuses others)
      --report FILE         write the restore's timeline (each phase on each node, sizes,
                            rates) as one self-contained HTML page, whatever its outcome
      --identity FILE       age identity file (mode 600) that opens an encrypted set's
                            key; default the fleet file's encryption.identity
${FLEET_OPTIONS_HELP}

Exit: 0 restored and verified, 1 failed or verification found problems, 2 usage error,
130 interrupted (SIGINT or SIGTERM; a second one exits at once; resume with --restore-id).
TheHive must be stopped on every node during an in-place restore.`;

const RESTORE_OPTIONS = {
  ...fleetOptions,
  'dry-run': { type: 'boolean', default: false },
  yes: { type: 'boolean', short: 'y', default: false },
  'drop-keyspace': { type: 'boolean', default: false },
  'target-keyspace': { type: 'string' },
  'index-prefix': { type: 'string' },
  'files-target': { type: 'string' },
  'files-bucket': { type: 'string' },
  'files-clean': { type: 'boolean', default: false },
  sstableloader: { type: 'boolean', default: false },
  'rebuild-index': { type: 'boolean', default: false },
  replication: { type: 'string' },
  'restore-id': { type: 'string' },
  report: { type: 'string' },
  identity: { type: 'string' },
} as const;

/** Runs the verb; returns the exit code. */
export async function restoreCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: RESTORE_OPTIONS,
    strict: true,
  });
  if (values.help) return void console.log(RESTORE_HELP), EXIT.ok;
  // Every id and name is checked before anything else, --dry-run included.
  const id = backupIdArgument('restore', positionals);
  const chosenRestoreId = checkArg('--restore-id', values['restore-id'], checkBackupId);
  checkArg('--target-keyspace', values['target-keyspace'], checkCqlName);
  checkArg('--index-prefix', values['index-prefix'], matches(restoreOptionsSchema.shape.indexPrefix));
  checkArg('--files-target', values['files-target'], matches(restoreOptionsSchema.shape.filesTarget));
  checkArg('--files-bucket', values['files-bucket'], matches(restoreOptionsSchema.shape.filesBucket));
  checkArg('--replication', values.replication, parseReplicationFlag);
  const reportFile = checkArg('--report', values.report, outputFile);
  if (values['rebuild-index'] && values['index-prefix']) throw new UsageError('--rebuild-index rebuilds TheHive\'s live index: it does not go with --index-prefix');
  const { fleet, agents } = openFromConfig(values);
  const destination = openDestination(fleet.destination);
  try {
    const checked: CheckedManifest = await readManifestAndDigest(destination, id, setTrustOf(fleet));
    const { manifest } = checked;
    // Flags are checked by the same schema as at the agents (index prefix, folder...): exit 2 before any RPC.
    const plan = planRestore(manifest, fleet.agents, {
      targetKeyspace: values['target-keyspace'],
      dropKeyspace: values['drop-keyspace'],
      indexPrefix: values['index-prefix'],
      filesTarget: values['files-target'],
      filesBucket: values['files-bucket'],
      forceLoader: values.sstableloader,
      rebuildIndex: values['rebuild-index'],
      filesClean: values['files-clean'],
      replication: values.replication,
    });
    say(`restore plan for backup set ${id} (committed ${manifest.committedAt}):`);
    for (const l of plan.lines) say(`  - ${l}`);
    if (values['dry-run']) return EXIT.ok;
    // Opened before anything runs: a wrong identity changes nothing on any node.
    checked.setIdentities = await setIdentitiesFor(openDestination(fleet.destination), manifest, fleet.encryption, values.identity);
    say('checking every part of the backup set against its manifest…');
    const check = await verifyBackupSet(destination, id, { es: { agents, destination: fleet.destination }, manifest: checked });
    if (!check.ok) {
      say(`the backup set is damaged; nothing was changed:\n  ${check.problems.join('\n  ')}`);
      if (values.json) console.log(JSON.stringify({ id, ok: false, problems: check.problems }));
      return EXIT.failed;
    }
    if (!values.yes && !(await confirm(`restore ${id} as planned above?`))) return EXIT.usage;
    const restoreId = chosenRestoreId ?? `restore-${newBackupId().slice('tandem-'.length)}`;
    say(`restore id ${restoreId} (rerun with --restore-id ${restoreId} to resume)`);
    const resume = resumeArgs('restore', argv, RESTORE_OPTIONS, id, restoreId);
    const outcome = await watchedRestore(fleet, agents, checked, plan, { restoreId, kind: 'restore', resume });
    if (values.json) console.log(JSON.stringify(outcome));
    if (outcome.interrupted) return EXIT.interrupted;
    if (reportFile) for (const f of await writeReport(restoreModel(manifest, outcome), { html: reportFile })) say(`report of ${restoreId} written to ${f}`);
    if (outcome.ok) say(`backup set ${id} restored and verified in ${(outcome.durationMs / 1000).toFixed(1)} s`);
    else say(`restore ${outcome.failedPhase ? `stopped in phase ${outcome.failedPhase}` : 'verification failed'}:\n  ${outcome.problems.join('\n  ')}`);
    printVerifySummary(outcome.results.verify ?? {});
    printLoadNotes(outcome.results.load ?? {});
    return outcome.ok ? EXIT.ok : EXIT.failed;
  } finally {
    agents.forEach((a) => a.close());
  }
}

/** Asks on the terminal; without one, the operator must pass --yes. */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError('restore changes data: pass --yes to confirm when there is no terminal');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
