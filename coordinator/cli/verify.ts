/** `tandem verify <id>`: re-reads every part of a backup set and checks it against the manifest. */
import { parseArgs } from 'node:util';
import { loadFleetConfig } from '../config';
import { verifyBackupSet } from '../backup/verify';
import { EXIT, formatBytes, say, UsageError } from './common';

export const VERIFY_HELP = `Usage: tandem verify ID [--config FILE] [--json]

Re-reads every file of the backup set at the destination and checks its size and sha256
against the manifest. Reports exactly what is missing or corrupt. --json prints
{id, ok, files, bytes, problems[]}. Exit 0 when intact, 1 when a problem was found.`;

/** Runs the verb; returns the exit code. */
export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(VERIFY_HELP), EXIT.ok;
  if (positionals.length !== 1) throw new UsageError('verify: expected one backup id');
  const report = await verifyBackupSet(loadFleetConfig(values.config!).destination, positionals[0]);
  if (values.json) console.log(JSON.stringify(report));
  if (report.ok) say(`backup set ${report.id} intact: ${report.files} files, ${formatBytes(report.bytes)} checked`);
  else {
    say(`backup set ${report.id}: ${report.problems.length} problem(s):`);
    for (const p of report.problems) say(`  ${p}`);
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}
