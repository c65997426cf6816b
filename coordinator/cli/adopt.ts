/** `tandem adopt ID`: checks a set written before sets were signed in full, then signs it. */
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { adoptSet } from '../backup/adopt';
import { formatBytes } from '../../shared/format';
import { backupIdArgument, EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say } from './common';

export const ADOPT_HELP = `Usage: tandem adopt ID [options]

Signs a backup set written by a tandem before sets were signed ('tandem list' shows it as
untrusted, unsigned), so that list, prune, restore, drill and the next backup use it again.
First its manifest is checked as a signed one would be (it describes its own folder, its dates
are real and not in the future, it has nodes), then every file it names is re-read and its
size and sha256 compared, as 'tandem verify' does, attachments and the Elasticsearch snapshot
included; only then are the manifest's exact bytes signed with the fleet's signing.key
(written as ID/manifest.sig). A set that fails any check is not signed: the problems are named
and it stays untrusted. The folder of a set pruned before signing has its pruned.json signed
instead, once it names its own folder and snapshot.

Adopt only sets this fleet wrote: signing vouches for what the manifest says. A set signed by
a key that is no longer trusted is not adopted: list that key's public file in signing.trusted.

Options:
${FLEET_OPTIONS_HELP}

--json prints {id, outcome: adopted|signed, file, keyId, files, bytes}.
Exit: 0 signed (or it already was), 1 refused (a check failed, or the set is untrusted for
another reason than a missing signature), 2 usage or configuration error.`;

/** Runs the verb; returns the exit code. */
export async function adoptCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: fleetOptions, strict: true });
  if (values.help) return void console.log(ADOPT_HELP), EXIT.ok;
  const id = backupIdArgument('adopt', positionals);
  const { fleet, agents } = openFromConfig(values);
  try {
    const r = await adoptSet(fleet, openDestination(fleet.destination), id, agents, say);
    if (values.json) console.log(JSON.stringify(r));
    if (r.outcome === 'signed') say(`${id}: its ${r.file} is already signed by a trusted key; nothing written`);
    else if (r.file === 'pruned.json') say(`${id}: pruned folder adopted, its pruned.json signed with key ${r.keyId}`);
    else say(`${id}: adopted: ${r.files} files, ${formatBytes(r.bytes)} verified; manifest signed with key ${r.keyId}`);
    return EXIT.ok;
  } finally {
    agents.forEach((a) => a.close());
  }
}
