/**
 * An agent's clock moved by minutes against its leases: set back or forward ten minutes while a
 * backup is prepared (NTP, an operator). The clock is the controller's seam; the role is the
 * protocol's rehearsal role, the store a real state folder.
 */
import { join } from 'node:path';
import { BackupController } from '../../agent/backup/controller';
import { StateStore } from '../../agent/backup/store';
import { createLogger } from '../../shared/log';
import { localPlan } from '../helpers/plan';
import { rehearsalRole, rehearsalSettings } from '../helpers/rehearsal-role';
import { observe, type FaultCase, type Observation } from './case';
import { scratchDir } from '../helpers/scratch';

const MINUTES = 60_000;

async function withClock(run: (c: BackupController, offset: { ms: number }, plan: (id: string, leaseMs: number) => Parameters<BackupController['prepare']>[0]) => Promise<Observation>): Promise<Observation> {
  const dir = await scratchDir('lease');
  const offset = { ms: 0 };
  const log = createLogger('clock-fault');
  log.level = 'silent';
  const c = new BackupController('n1', [rehearsalRole(rehearsalSettings.parse({ shipMs: 0, markerDir: join(dir, 'markers') }))], new StateStore(join(dir, 'state')), log, undefined, () => Date.now() + offset.ms);
  const plan = (id: string, leaseMs: number) => localPlan(id, dir, leaseMs);
  try {
    return await run(c, offset, plan);
  } finally {
    // The folder goes at exit, not here: close() leaves a ship in flight that still writes its state file.
    c.close();
  }
}

export const clockFaultCases: FaultCase[] = [
  {
    kind: 'fault',
    name: "agent's clock set back 10 minutes (injected clock)",
    phase: 'between prepare and commit',
    expected: 'the lease still ends on time (monotonic clock): the prepared backup aborts itself',
    needs: 'none',
    quick: true,
    run: () => withClock(async (c, offset, plan) => {
      const vote = await c.prepare(plan('lease-back', 1000));
      if (!vote.yes) return observe(`vote no: ${vote.reason}`, ['Prepare voted no']);
      offset.ms = -10 * MINUTES;
      // The lease's end is the event: waited for up to 5 s (a lease read off the set-back wall clock would end 10 minutes late).
      const started = Date.now();
      for (const end = started + 5000; c.status('lease-back').state === 'prepared' && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      const s = c.status('lease-back');
      return observe(`after ${((Date.now() - started) / 1000).toFixed(1)} s: ${s.state}`, s.state === 'aborted' && /lease expired/.test(s.error) ? [] : [`still ${s.state} after its 1 s lease`], s.state === 'prepared' ? 'a prepared backup' : 'none');
    }),
  },
  {
    kind: 'fault',
    name: "agent's clock set forward 10 minutes (injected clock)",
    phase: 'between prepare and commit',
    expected: 'a Commit within the lease is taken (the lease is not read off the wall clock)',
    needs: 'none',
    quick: true,
    run: () => withClock(async (c, offset, plan) => {
      if (!(await c.prepare(plan('lease-forward', 5000))).yes) return observe('vote no', ['Prepare voted no']);
      offset.ms = 10 * MINUTES;
      try {
        const rec = await c.commit('lease-forward');
        return observe(`Commit taken: ${rec.state}`, []);
      } catch (err) {
        return observe(`Commit refused: ${(err as Error).message}`, ['a Commit within the lease was refused']);
      }
    }),
  },
];
