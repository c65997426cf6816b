/** `tandem systemd`: the drop-in that opens the folders a fleet file makes the coordinator's units write. */
import { parseArgs } from 'node:util';
import { loadFleetConfig } from '../config';
import { COORDINATOR_UNITS, coordinatorDropIn } from '../systemd';
import { EXIT } from './common';

export const SYSTEMD_HELP = `Usage: tandem systemd [--config FILE]

Prints the systemd drop-in that opens, in ${COORDINATOR_UNITS.join(' and ')}, the folders this
fleet file makes the coordinator write: a local or NFS destination, and stateDir when it is not
/var/lib/tandem. The units mount everything else read-only. Install it for both units:
  for u in ${COORDINATOR_UNITS.join(' ')}; do
    mkdir -p /etc/systemd/system/$u.d
    tandem systemd --config /etc/tandem/fleet.yaml > /etc/systemd/system/$u.d/paths.conf
  done
  systemctl daemon-reload

Options:
  -c, --config FILE   the fleet file; default /etc/tandem/fleet.yaml
  -h, --help          this help

Exit: 0, 2 usage or configuration error.`;

/** Runs the verb; returns the exit code. */
export async function systemdCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' }, help: { type: 'boolean', short: 'h', default: false } }, strict: true });
  if (values.help) return void console.log(SYSTEMD_HELP), EXIT.ok;
  process.stdout.write(coordinatorDropIn(loadFleetConfig(values.config!), values.config!));
  return EXIT.ok;
}
