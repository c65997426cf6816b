/** `tandem list` and `tandem show <id>`: the backup sets at the fleet's destination. */
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { loadFleetConfig } from '../config';
import { listBackupSets, readManifest } from '../backup/catalog';
import { formatBytes } from '../../shared/format';
import { backupIdArgument, EXIT } from './common';

export const LIST_HELP = `Usage: tandem list [--config FILE] [--json]

Lists the backup sets at the destination. Only sets with a valid manifest are complete;
a folder without one is shown as incomplete and is not a backup.`;

export const SHOW_HELP = `Usage: tandem show ID [--config FILE] [--json]

Shows one complete backup set: nodes, snapshot instants and their spread, parts, sizes.`;

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

/** Runs `tandem show ID`. */
export async function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) return void console.log(SHOW_HELP), EXIT.ok;
  const id = backupIdArgument('show', positionals);
  const m = await readManifest(openDestination(loadFleetConfig(values.config!).destination), id);
  if (values.json) return void console.log(JSON.stringify(m)), EXIT.ok;
  console.log(`backup set ${m.id} (${m.status})`);
  console.log(`  committed ${m.committedAt}, completed ${m.completedAt}, ${(m.durationMs / 1000).toFixed(1)} s`);
  console.log(`  ${m.files.length + m.listed.files} files, ${formatBytes(m.bytes)}; snapshot spread ${m.snapshotSpreadMs ?? 'n/a'} ms`);
  console.log(`  options: ${Object.entries(m.options).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const n of m.nodes) {
    console.log(`  node ${n.node} (${n.hostname}) roles ${n.roles.join(',')}, cut at ${new Date(n.committedAt).toISOString()}`);
    for (const [role, part] of Object.entries(n.parts)) {
      if (!part) continue;
      const files = m.files.filter((f) => f.node === n.node && f.role === role);
      const listed = role === 'files' && 'fileCount' in part ? { files: part.fileCount, bytes: part.bytes } : { files: 0, bytes: 0 };
      console.log(`    ${role}: ${files.length + listed.files} files, ${formatBytes(files.reduce((s, f) => s + f.size, 0) + listed.bytes)}; ${part.summary}`);
    }
  }
  return EXIT.ok;
}
