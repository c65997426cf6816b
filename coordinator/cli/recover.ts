/** `tandem recover`: finishes or removes the backups of coordinators that died mid-run. */
import { parseArgs } from 'node:util';
import { acquireBackupLock } from '../backup/lock';
import { Journal } from '../backup/journal';
import { recoverRuns } from '../backup/recover';
import { EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say } from './common';

export const RECOVER_HELP = `Usage: tandem recover [options]

Reads the coordinator's journal (<stateDir>/journal/, the fleet file's stateDir) and drives every
backup whose coordinator died (kill -9, a crash, a reboot) to one of two ends:
  complete  Commit had reached every agent and each shipped its part: the manifest is written
            after every part is read back and checked (or had been written already);
  removed   Abort on every agent (snapshots, partial uploads and the Elasticsearch snapshot are
            undone) and the set's folder at the destination is deleted.
A backup that cannot be decided yet (an agent that does not answer after Commit) stays in the
journal and is tried again by the next 'tandem recover' or 'tandem backup', which runs the same
recovery before its own backup. Holds the backup lock while it runs.

Options:
${FLEET_OPTIONS_HELP}

Exit: 0 nothing left to recover, 1 a backup is still pending, or another backup holds the lock,
2 usage or configuration error.`;

/** Runs the verb; returns the exit code. */
export async function recoverCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: fleetOptions, strict: true });
  if (values.help) return void console.log(RECOVER_HELP), EXIT.ok;
  const { fleet, agents } = openFromConfig(values);
  const lock = acquireBackupLock(fleet.stateDir, 'recover', (w) => say(`warning: ${w}`));
  try {
    const journal = new Journal(fleet.stateDir);
    const recovered = await recoverRuns(fleet, agents, journal, say);
    if (values.json) console.log(JSON.stringify({ recovered }));
    else if (!recovered.length) say('nothing to recover: every backup in the journal has ended');
    return recovered.some((r) => r.result === 'pending') ? EXIT.failed : EXIT.ok;
  } finally {
    agents.forEach((a) => a.close());
    lock.release();
  }
}
