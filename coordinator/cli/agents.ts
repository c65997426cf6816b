/** `tandem agents`: who is in the fleet, reachable, with which roles, versions and clock; or clears an abandoned restore's record. */
import { parseArgs } from 'node:util';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { errorMessage } from '../../shared/errors';
import { checkRestoreId } from '../../shared/names';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { clearRestore } from '../restore/clear';
import { EXIT, FLEET_OPTIONS_HELP, checkArg, fleetOptions, openFromConfig, say } from './common';

export const AGENTS_HELP = `Usage: tandem agents [options]
       tandem agents --clear-restore RESTORE_ID [options]

Describes every agent of the fleet over mutual TLS: node, roles, state, versions and clock
offset. Exits 1 when an agent is unreachable or lacks a role the fleet file gives it.

--clear-restore RESTORE_ID removes what an abandoned restore left on every agent that holds it:
its record (restore.json), the markers of its finished phases and its working folders (fetched
archives). The restore can no longer be resumed; run again, it starts from its first phase.
Refused on an agent where a phase of it runs, or where it is between phases and its coordinator
has not ended it, and here when this coordinator's own record says it is running. Exits 1 when
an agent refused or did not answer.

Options:
      --clear-restore RESTORE_ID
                      clear that restore on every agent instead of describing them
${FLEET_OPTIONS_HELP}`;

/** Runs the verb; returns the exit code. */
export async function agentsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...fleetOptions, 'clear-restore': { type: 'string' } }, strict: true });
  if (values.help) return void console.log(AGENTS_HELP), EXIT.ok;
  const clear = checkArg('agents: --clear-restore', values['clear-restore'], checkRestoreId);
  const { fleet, agents } = openFromConfig(values);
  if (clear !== undefined) return clearCommand(fleet, agents, clear, values.json!);
  try {
    const rows = await Promise.all(
      agents.map(async (a) => {
        const t0 = Date.now();
        try {
          const d = await a.describe(5000);
          const missing = a.entry.roles.filter((r) => !d.roles.includes(r));
          return {
            node: a.node,
            address: a.entry.address,
            ok: missing.length === 0,
            state: AgentState[d.state].toLowerCase(),
            backupId: d.backupId,
            roles: d.roles,
            versions: d.versions,
            clockOffsetMs: Math.round(d.clockUnixMs - (t0 + Date.now()) / 2),
            error: missing.length ? `lacks role ${missing.join(', ')}` : '',
          };
        } catch (err) {
          return { node: a.node, address: a.entry.address, ok: false, error: errorMessage(err) };
        }
      }),
    );
    if (values.json) console.log(JSON.stringify({ agents: rows }));
    else
      for (const r of rows) {
        console.log(
          'state' in r
            ? `${r.node} ${r.address} ${r.ok ? 'ok' : 'PROBLEM'} ${r.state}${r.backupId ? ` ${r.backupId}` : ''} roles=${r.roles!.join(',')} clock=${r.clockOffsetMs}ms${r.error ? ` ${r.error}` : ''}`
            : `${r.node} ${r.address} UNREACHABLE ${r.error}`,
        );
      }
    return rows.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
  } finally {
    agents.forEach((a) => a.close());
  }
}

async function clearCommand(fleet: FleetConfig, agents: AgentHandle[], restoreId: string, json: boolean): Promise<number> {
  try {
    const out = await clearRestore(fleet, agents, restoreId, (w) => say(`warning: ${w}`));
    if (json) console.log(JSON.stringify({ restoreId, agents: out }));
    else {
      for (const o of out) {
        if (o.result === 'cleared') console.log(`${o.node} cleared restore ${restoreId}${o.detail ? ` (of backup ${o.detail})` : ''}`);
        else if (o.result === 'none') console.log(`${o.node} holds nothing of restore ${restoreId}`);
        else console.log(`${o.node} ${o.result === 'refused' ? 'REFUSED' : 'UNREACHABLE'} ${o.detail}`);
      }
      if (out.every((o) => o.result === 'none')) say(`no agent held restore ${restoreId}: check the id ('tandem status' shows the last restore)`);
    }
    return out.every((o) => o.result === 'cleared' || o.result === 'none') ? EXIT.ok : EXIT.failed;
  } finally {
    agents.forEach((a) => a.close());
  }
}
