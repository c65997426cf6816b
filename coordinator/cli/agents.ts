/** `tandem agents`: who is in the fleet, reachable, with which roles, versions and clock. */
import { parseArgs } from 'node:util';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { errorMessage } from '../../shared/errors';
import { EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig } from './common';

export const AGENTS_HELP = `Usage: tandem agents [options]

Describes every agent of the fleet over mutual TLS: node, roles, state, versions and clock
offset. Exits 1 when an agent is unreachable or lacks a role the fleet file gives it.

Options:
${FLEET_OPTIONS_HELP}`;

/** Runs the verb; returns the exit code. */
export async function agentsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: fleetOptions, strict: true });
  if (values.help) return void console.log(AGENTS_HELP), EXIT.ok;
  const { agents } = openFromConfig(values);
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
