/** `tandem list`: the backup sets at the fleet's destination. */
import { printable } from '../../shared/printable';
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { loadFleetConfig } from '../config';
import { listBackupSets } from '../sets/catalog';
import { setTrustOf } from '../signing';
import { formatBytes } from '../../shared/format';
import { EXIT } from './common';

/** Every line of this verb holds strings read back from the destination: printed through one escaping. */
const print = (line: string) => console.log(printable(line));

export const LIST_HELP = `Usage: tandem list [--all] [--config FILE] [--json]

Lists the backup sets at the destination. Only sets with a valid manifest signed by a trusted
key (the fleet file's signing block) are complete; a folder without a manifest is shown as
incomplete and is not a backup; one whose manifest is not believed as untrusted, with why:
unsigned (written before sets were signed: 'tandem adopt ID'), invalid-signature-file,
unknown-key (signed by a key signing.trusted does not list), bad-signature (changed after it
was signed), folder-mismatch (it describes another set), invalid-field (a date that is no
date or in the future, no nodes), oversized. An untrusted set is never used, built on, counted
or removed by a prune. One whose signed manifest this tandem cannot read (another format) is
unreadable. --all also shows the folders of pruned sets that still hold files later sets
reference: "pruned (holds N files of later sets)".`;

const options = {
  all: { type: 'boolean', default: false },
  config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs `tandem list`. */
export async function listCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options, strict: true });
  if (values.help) return void console.log(LIST_HELP), EXIT.ok;
  // A pruned folder is no backup: it only stores files that kept sets reference.
  const fleet = loadFleetConfig(values.config!);
  const sets = (await listBackupSets(openDestination(fleet.destination), setTrustOf(fleet))).filter((s) => values.all || s.status !== 'pruned');
  if (values.json) console.log(JSON.stringify({ backupSets: sets }));
  else if (!sets.length) print('no backup sets');
  else
    for (const s of sets) {
      if (s.status === 'pruned') {
        print(`${s.id}  pruned (holds ${s.files} files of later sets, ${formatBytes(s.bytes)})`);
        continue;
      }
      print(`${s.id}  ${s.status.padEnd(10)}  ${String(s.files).padStart(5)} files  ${formatBytes(s.bytes).padStart(10)}` +
        (s.snapshotSpreadMs != null ? `  spread ${s.snapshotSpreadMs} ms` : '') + (s.reason ? `  ${s.reason}:` : '') + (s.problem ? `  ${s.problem}` : '') +
        (s.ignoredMarker ? `  (${s.ignoredMarker})` : ''));
    }
  return EXIT.ok;
}
