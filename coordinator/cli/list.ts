/** `tandem list`: the backup sets at the fleet's destination. */
import { parseArgs } from 'node:util';
import { loadFleetConfig } from '../config';
import { listBackupSets } from '../backup/catalog';
import { formatBytes } from '../../shared/format';
import { EXIT } from './common';

export const LIST_HELP = `Usage: tandem list [--config FILE] [--json]

Lists the backup sets at the destination. Only sets with a valid manifest are complete;
a folder without one is shown as incomplete and is not a backup.`;

const options = {
  config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs `tandem list`. */
export async function listCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options, strict: true });
  if (values.help) return void console.log(LIST_HELP), EXIT.ok;
  const sets = await listBackupSets(loadFleetConfig(values.config!).destination);
  if (values.json) console.log(JSON.stringify({ backupSets: sets }));
  else if (!sets.length) console.log('no backup sets');
  else
    for (const s of sets) {
      console.log(`${s.id}  ${s.status.padEnd(10)}  ${String(s.files).padStart(5)} files  ${formatBytes(s.bytes).padStart(10)}` +
        (s.snapshotSpreadMs != null ? `  spread ${s.snapshotSpreadMs} ms` : ''));
    }
  return EXIT.ok;
}
