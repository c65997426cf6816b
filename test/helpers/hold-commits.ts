/**
 * `node hold-commits.js FLEET_FILE BACKUP_ID`: opens every agent's Commit call and holds it, as
 * the coordinator's commit round does before it ends them; prints "held" once every agent holds
 * its request, then waits to be killed. For the test of a coordinator that dies holding them.
 */
import { loadFleetConfig } from '../../coordinator/config';
import { openFleet } from '../../coordinator/fleet';

const [fleetFile, backupId] = process.argv.slice(2);
const fleet = loadFleetConfig(fleetFile);
const calls = openFleet(fleet.agents, fleet.tls).map((a) => a.openCommit(backupId, 600_000));
calls.forEach((c) => c.response.catch(() => undefined));
void Promise.all(calls.map((c) => c.ready)).then((ready) => {
  process.stdout.write(ready.every(Boolean) ? 'held\n' : 'not held\n');
  setInterval(() => undefined, 60_000);
});
