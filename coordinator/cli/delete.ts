/** `tandem delete ID`: removes one backup set, keeping whatever other sets need of it. */
import { parseArgs } from 'node:util';
import { backupIdArgument, EXIT, FLEET_OPTIONS_HELP, fleetOptions } from './common';
import { REMOVAL_RULES_HELP, runRemoval } from './prune';

export const DELETE_HELP = `Usage: tandem delete ID [--dry-run] [options]

Removes one backup set: a complete one (never the newest: that exits 1, saying why), an
incomplete one (not while this coordinator's journal has an unfinished run for it: 'tandem
recover' decides those), or the folder of a pruned set. An unknown id exits 2.

${REMOVAL_RULES_HELP}

Options:
      --dry-run           say what would be removed, remove nothing
${FLEET_OPTIONS_HELP}

--json prints {dryRun, ok, kept[], removed[], incomplete[], unreadable[]}.
Exit: 0 done, 1 refused (the newest set, a running backup) or not finished (the next prune or
delete finishes it), 2 usage or configuration error, or an unknown id (nothing removed).`;

/** Runs the verb; returns the exit code. */
export async function deleteCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { ...fleetOptions, 'dry-run': { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  if (values.help) return void console.log(DELETE_HELP), EXIT.ok;
  const id = backupIdArgument('delete', positionals);
  return runRemoval(values, { kind: 'delete', id });
}
