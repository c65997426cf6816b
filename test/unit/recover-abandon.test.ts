/**
 * `tandem recover --abandon ID`: the journal entry of a run recovery cannot decide is closed as
 * abandoned, the reachable agents undo their part, what an unreachable one wrote stays (and is
 * named), and an id that is not open is refused by name. Agents are AgentHandles answering Abort
 * as real agents do (the coordinator's own seam); journal and destination are real, in a temp folder.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { abandonRun } from '../../coordinator/backup/abandon';
import { Journal } from '../../coordinator/backup/journal';
import { recoverCommand } from '../../coordinator/cli/recover';
import { fleetConfigSchema, type FleetConfig } from '../../coordinator/config';
import type { AgentHandle } from '../../coordinator/fleet';
import { openDestination } from '../../shared/destination';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { manifestPath } from '../../shared/destination/layout';
import { backupOptionsSchema } from '../../shared/wire/backup-options';
import { rejects } from '../helpers/assert';
import { scratchDir } from '../helpers/scratch';
import { signingBlock, writeSigningKeySync } from '../helpers/signing';

const ID = 'tandem-20260101t000000z';

/** An agent that answers Abort (undoing its part at the destination), or is gone. */
function agent(node: string, dest: string, gone = false): AgentHandle & { aborts: string[] } {
  const aborts: string[] = [];
  return {
    node,
    aborts,
    async abort(backupId: string, reason: string) {
      if (gone) throw new Error(`${node}: 14 UNAVAILABLE: No connection established`);
      aborts.push(`${backupId}: ${reason}`);
      const { rmSync } = await import('node:fs');
      rmSync(join(dest, backupId, node), { recursive: true, force: true });
      return { state: AgentState.ABORTED };
    },
    close() {},
  } as unknown as AgentHandle & { aborts: string[] };
}

async function setup(nodes: string[]) {
  const dir = await scratchDir('abandon');
  const dest = join(dir, 'dest');
  for (const n of nodes) {
    mkdirSync(join(dest, ID, n, 'rehearsal'), { recursive: true });
    writeFileSync(join(dest, ID, n, 'rehearsal', 'part.txt'), `part of ${n}\n`);
  }
  const fleet: FleetConfig = fleetConfigSchema.parse({
    agents: nodes.map((n, i) => ({ node: n, address: `127.0.0.1:${7400 + i}`, roles: ['rehearsal'] })),
    destination: { type: 'local', path: dest },
    stateDir: join(dir, 'coordinator'),
    signing: signingBlock(writeSigningKeySync(join(dir, 'keys'))),
  });
  const journal = new Journal(fleet.stateDir);
  const entry = journal.begin(ID, Date.now() - 60_000, backupOptionsSchema.parse({}));
  journal.step(entry, 'shipping');
  return { dir, dest, fleet, journal };
}

test('an agent gone for good: the others undo their part, its part stays and is named, the entry is closed with the reason', async () => {
  const { dest, fleet, journal } = await setup(['n1', 'n2', 'n3']);
  const agents = [agent('n1', dest), agent('n2', dest), agent('n3', dest, true)];
  const a = await abandonRun(fleet, openDestination(fleet.destination), agents, journal, ID, 'n3 was decommissioned');
  assert.equal(a.undone, ['n1', 'n2']);
  assert.is(a.unreached.length, 1);
  assert.match(a.unreached[0], /^n3: .*UNAVAILABLE/);
  assert.is(a.from, 'shipping');
  assert.ok(agents[0].aborts[0].includes('abandoned by the operator: n3 was decommissioned'));
  // n1's and n2's parts are gone; n3's stays, and the message says where and why it is harmless.
  assert.equal([existsSync(join(dest, ID, 'n1')), existsSync(join(dest, ID, 'n2')), existsSync(join(dest, ID, 'n3'))], [false, false, true]);
  assert.match(a.left, new RegExp(`what n3 wrote stays under ${ID}/ at .*dest.*no manifest, so it is never taken for a backup.*tandem prune`));
  assert.equal(journal.unfinished(), []);
  const closed = journal.entries().find((e) => e.backupId === ID)!;
  assert.is(closed.step, 'abandoned');
  assert.match(closed.reason, /^abandoned by the operator: n3 was decommissioned; not reached: n3: .*; what n3 wrote stays under/);
  // Once closed it is refused by name: nothing is open under that id any more.
  await rejects(() => abandonRun(fleet, openDestination(fleet.destination), agents, journal, ID, 'again'), new RegExp(`backup ${ID} is not open in the journal: it ended \\(abandoned`));
});

test('every agent reached: the set folder goes too, nothing is left to name', async () => {
  const { dest, fleet, journal } = await setup(['n1', 'n2']);
  const a = await abandonRun(fleet, openDestination(fleet.destination), [agent('n1', dest), agent('n2', dest)], journal, ID, 'operator decided');
  assert.equal([a.undone, a.unreached, a.left], [['n1', 'n2'], [], '']);
  assert.is(existsSync(join(dest, ID)), false);
  assert.is(journal.entries()[0].step, 'abandoned');
});

test('refused: an id not in the journal, and a set with a manifest (complete, for recover to record)', async () => {
  const { dest, fleet, journal } = await setup(['n1']);
  const agents = [agent('n1', dest)];
  await rejects(() => abandonRun(fleet, openDestination(fleet.destination), agents, journal, 'tandem-20250101t000000z', 'x'), /backup tandem-20250101t000000z is not in the journal \(.*journal\): nothing to abandon; 'tandem status'/);
  writeFileSync(join(dest, manifestPath(ID)), '{}');
  await rejects(() => abandonRun(fleet, openDestination(fleet.destination), agents, journal, ID, 'x'), new RegExp(`backup ${ID} has a manifest at .*: the set is complete, not abandoned; run 'tandem recover'`));
  assert.equal(agents[0].aborts, []);
  assert.is(journal.unfinished().length, 1);
});

test('the CLI checks --abandon and --reason before it opens anything', async () => {
  await rejects(() => recoverCommand(['--abandon', '../etc', '--config', '/nonexistent.yaml']), /recover: --abandon: /);
  await rejects(() => recoverCommand(['--reason', 'why', '--config', '/nonexistent.yaml']), /recover: --reason goes with --abandon ID/);
  await rejects(() => recoverCommand(['--abandon', ID, '--reason', 'two\nlines', '--config', '/nonexistent.yaml']), /recover: --reason: holds a control character/);
  await rejects(() => recoverCommand([ID, '--config', '/nonexistent.yaml']), /the id to abandon goes after --abandon/);
});

test.run();
