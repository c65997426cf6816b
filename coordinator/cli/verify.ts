/** `tandem verify <id>`: re-reads every part of a backup set and checks it against the manifest. */
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { verifyBackupSet } from '../sets/verify';
import { setTrustOf } from '../signing';
import { formatBytes } from '../../shared/format';
import { backupIdArgument, EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say } from './common';

export const VERIFY_HELP = `Usage: tandem verify ID [options]

Re-reads every file of the backup set at the destination and checks its size and sha256
against the manifest, and has the agent with the elasticsearch role confirm that the snapshot
is still in its repository with state SUCCESS. Reports exactly what is missing or corrupt.
Only a set whose manifest is signed by a trusted key is verified: an older unsigned set is
checked and signed by 'tandem adopt ID'.
--json prints {id, ok, files, bytes, problems[]}. Exit 0 when intact, 1 when a problem was found.

Options:
${FLEET_OPTIONS_HELP}`;

/** Runs the verb; returns the exit code. */
export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: fleetOptions,
    strict: true,
  });
  if (values.help) return void console.log(VERIFY_HELP), EXIT.ok;
  const id = backupIdArgument('verify', positionals);
  const { fleet, agents } = openFromConfig(values);
  let report;
  try {
    report = await verifyBackupSet(openDestination(fleet.destination), id, { es: { agents, destination: fleet.destination }, trust: setTrustOf(fleet) });
  } finally {
    agents.forEach((a) => a.close());
  }
  if (values.json) console.log(JSON.stringify(report));
  if (report.ok) say(`backup set ${report.id} intact: ${report.files} files, ${formatBytes(report.bytes)} checked`);
  else {
    say(`backup set ${report.id}: ${report.problems.length} problem(s):`);
    for (const p of report.problems) say(`  ${p}`);
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}
