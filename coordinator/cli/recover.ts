/** `tandem recover`: finishes or removes the backups of coordinators that died mid-run, or abandons one. */
import { parseArgs } from 'node:util';
import { abandonRun } from '../backup/abandon';
import { acquireBackupLock } from '../backup/lock';
import { acquireDestinationLock, type DestinationLock } from '../backup/destination-lock';
import { openDestination } from '../../shared/destination';
import { stopOnLostLock } from './prune';
import { Journal } from '../backup/journal';
import { recoverRuns } from '../backup/recover';
import { checkBackupId } from '../../shared/names';
import { EXIT, FLEET_OPTIONS_HELP, UsageError, checkArg, fleetOptions, openFromConfig, say } from './common';

export const RECOVER_HELP = `Usage: tandem recover [options]
       tandem recover --abandon ID [--reason TEXT] [options]

Reads the coordinator's journal (<stateDir>/journal/, the fleet file's stateDir) and drives every
backup whose coordinator died (kill -9, a crash, a reboot) to one of two ends:
  complete  Commit had reached every agent and each shipped its part: the manifest is written
            after every part is read back and checked (or had been written already);
  removed   Abort on every agent (snapshots, partial uploads and the Elasticsearch snapshot are
            undone) and the set's folder at the destination is deleted.
A backup that cannot be decided yet (an agent that does not answer after Commit) stays in the
journal and is tried again by the next 'tandem recover' or 'tandem backup', which runs the same
recovery before its own backup. Holds the backup lock while it runs.

--abandon ID closes such a backup for good when an agent that took part is gone and will not
answer again: every reachable agent undoes its part (Abort), and the journal records the run as
abandoned, with the reason. What an unreachable agent wrote stays at the destination under ID/:
the set has no manifest, so it is never taken for a backup; remove that folder, or 'tandem prune'
clears it after its grace time. Refused for an ID that is not open in the journal, and for a set
that has a manifest (it is complete: plain 'tandem recover' records it).

Options:
      --abandon ID    abandon the unfinished backup ID instead of recovering every one
      --reason TEXT   why, recorded in the journal (with --abandon); default: recovery cannot
                      decide it, an agent is gone
${FLEET_OPTIONS_HELP}

Exit: 0 nothing left to recover (or ID abandoned), 1 a backup is still pending, ID is not open,
or another backup holds the lock, 2 usage or configuration error.`;

/** The longest --reason: one line of a journal entry, not a document. */
const REASON_MAX = 500;

/** --reason: one line of printable text. */
function checkReason(v: string): string {
  if (v.length > REASON_MAX) throw new Error(`longer than ${REASON_MAX} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new Error('holds a control character (a newline, a tab...); give one line');
  return v;
}

/** Runs the verb; returns the exit code. */
export async function recoverCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...fleetOptions, abandon: { type: 'string' }, reason: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return void console.log(RECOVER_HELP), EXIT.ok;
  if (positionals.length) throw new UsageError(`recover: unexpected argument ${JSON.stringify(positionals[0])}; the id to abandon goes after --abandon`);
  const abandon = checkArg('recover: --abandon', values.abandon, checkBackupId);
  const reason = checkArg('recover: --reason', values.reason, checkReason);
  if (reason !== undefined && abandon === undefined) throw new UsageError('recover: --reason goes with --abandon ID');
  const { fleet, agents } = openFromConfig(values);
  // One destination for the whole verb: its lock, what recovery reads, and what it removes.
  const destination = openDestination(fleet.destination);
  const lock = acquireBackupLock(fleet.stateDir, 'recover', (w) => say(`warning: ${w}`));
  let destLock: DestinationLock | undefined;
  try {
    // Recovery removes what dead runs left at the destination: no other coordinator may be building on it meanwhile.
    destLock = await acquireDestinationLock(destination, { verb: 'recover', stateDir: fleet.stateDir, warn: (w) => say(`warning: ${w}`), onLost: stopOnLostLock });
    const journal = new Journal(fleet.stateDir);
    if (abandon !== undefined) {
      const a = await abandonRun(fleet, destination, agents, journal, abandon, reason ?? 'recovery cannot decide it, an agent is gone');
      if (values.json) console.log(JSON.stringify({ abandoned: a }));
      else {
        say(`backup ${a.id} (stopped at step ${a.from}) abandoned; undone on ${a.undone.length ? a.undone.join(', ') : 'no agent'}`);
        for (const u of a.unreached) say(`  not reached: ${u}`);
        if (a.left) say(`  ${a.left}`);
      }
      return EXIT.ok;
    }
    const recovered = await recoverRuns(fleet, destination, agents, journal, say);
    if (values.json) console.log(JSON.stringify({ recovered }));
    else if (!recovered.length) say('nothing to recover: every backup in the journal has ended');
    return recovered.some((r) => r.result === 'pending') ? EXIT.failed : EXIT.ok;
  } finally {
    agents.forEach((a) => a.close());
    await destLock?.release();
    lock.release();
  }
}
