/** `tandem verify <id>`: re-reads every part of a backup set and checks it against the manifest. */
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { verifyBackupSet } from '../sets/verify';
import { setTrustOf } from '../signing';
import { readManifestAndDigest } from '../sets/read-manifest';
import { setIdentitiesFor } from '../keys/set-identity';
import { formatBytes } from '../../shared/format';
import { backupIdArgument, EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say } from './common';

export const VERIFY_HELP = `Usage: tandem verify ID [options]

Re-reads every file of the backup set at the destination and checks its size and sha256
against the manifest, and has the agent with the elasticsearch role confirm that the snapshot
is still in its repository with state SUCCESS. Reports exactly what is missing or corrupt.
Only a set whose manifest is signed by a trusted key is verified: an older unsigned set is
checked and signed by 'tandem adopt ID'.
An encrypted set's attachments are named only in its encrypted files listings: without
--identity they are reported not checked (unchecked[]), the rest of the set is checked as
usual; with it, every attachment's stored ciphertext is checked too.
--json prints {id, ok, files, bytes, problems[], unchecked[]}. Exit 0 when intact, 1 when a
problem was found.

Options:
  --identity FILE  age identity file (mode 600) that opens an encrypted set's key, whose
               listings then name the attachments to check; default: encryption.identity
               when given (without one, the attachments are not checked)
${FLEET_OPTIONS_HELP}`;

/** Runs the verb; returns the exit code. */
export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...fleetOptions, identity: { type: 'string' } },
    strict: true,
  });
  if (values.help) return void console.log(VERIFY_HELP), EXIT.ok;
  const id = backupIdArgument('verify', positionals);
  const { fleet, agents } = openFromConfig(values);
  let report;
  try {
    const dest = openDestination(fleet.destination);
    const checked = await readManifestAndDigest(dest, id, setTrustOf(fleet));
    // An identity is optional here: without one, what needs none is verified and the rest is said unchecked.
    const identityGiven = values.identity ?? (fleet.encryption.mode === 'age' ? fleet.encryption.identity : undefined);
    const setIdentities = checked.manifest.options.setRecipient && identityGiven ? await setIdentitiesFor(dest, checked.manifest, fleet.encryption, values.identity) : [];
    report = await verifyBackupSet(dest, id, { es: { agents, destination: fleet.destination }, manifest: { ...checked, setIdentities } });
  } finally {
    agents.forEach((a) => a.close());
  }
  if (values.json) console.log(JSON.stringify(report));
  if (report.ok && report.unchecked.length) say(`backup set ${report.id}: no problem in the ${report.files} files (${formatBytes(report.bytes)}) checked, but not all of it was checked:`);
  else if (report.ok) say(`backup set ${report.id} intact: ${report.files} files, ${formatBytes(report.bytes)} checked`);
  else {
    say(`backup set ${report.id}: ${report.problems.length} problem(s):`);
    for (const p of report.problems) say(`  ${p}`);
  }
  for (const u of report.unchecked) say(`  NOT CHECKED: ${u}`);
  return report.ok ? EXIT.ok : EXIT.failed;
}
