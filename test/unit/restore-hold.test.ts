/**
 * The restore controller's rule for backups after a restore, and ClearRestore: a phase that ended
 * well holds backups out until the next phase is due, unless the coordinator ended the run
 * (EndRestore); ClearRestore removes the restore's folder, and is refused while a phase runs or
 * while the restore is between phases and not ended. Real controller, real rehearsal role, a
 * local destination with a real manifest, and a clock the test moves.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { manifestPath } from '../../shared/destination/layout';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BackupController } from '../../agent/backup/controller';
import { BETWEEN_PHASES_MS, RestoreController } from '../../agent/restore/controller';
import type { RestorableRole } from '../../agent/roles/role';
import type { RestorePhase } from '../../shared/contract';
import { silentLogger } from '../../shared/log';
import { manifestDigest } from '../../shared/manifest';
import { toWireDestination } from '../../shared/wire/destination';
import { parseRestoreOptions, toWirePhase, toWireRestoreOptions } from '../../shared/wire/restore';
import { rejects } from '../helpers/assert';
import { SET_ID, validManifest } from '../helpers/backup-set';
import { rehearsalRole, rehearsalSettings } from '../helpers/rehearsal-role';
import { scratchDir } from '../helpers/scratch';

/** A controller over the rehearsal role, a destination holding SET_ID's manifest, and its clock. */
async function setup(opts: { gate?: Promise<void> } = {}) {
  const dir = await scratchDir('restore-hold');
  const dest = join(dir, 'dest');
  mkdirSync(join(dest, SET_ID), { recursive: true });
  const body = JSON.stringify(validManifest());
  writeFileSync(join(dest, manifestPath(SET_ID)), body);
  const base = rehearsalRole(rehearsalSettings.parse({ markerDir: join(dir, 'markers') }));
  // A phase waits for the gate when there is one: the test decides when it ends.
  const role: RestorableRole = { ...base, restore: async (phase, ctx) => (await opts.gate, base.restore(phase, ctx)) };
  let held: () => string | null = () => null;
  const backups = { excludeWhile: (f: () => string | null) => (held = f), busyWith: null } as unknown as BackupController;
  const clock = { now: 1_000_000 };
  const stateDir = join(dir, 'state');
  const c = new RestoreController('node1', [role], stateDir, backups, silentLogger(), undefined, () => clock.now);
  const phase = (restoreId: string, p: RestorePhase) =>
    c.run({ restoreId, backupId: SET_ID, phase: toWirePhase(p), destination: toWireDestination({ type: 'local', path: dest }), options: toWireRestoreOptions(parseRestoreOptions({})), manifestSha256: manifestDigest(body), setIdentities: [] }, new AbortController().signal);
  return { c, phase, clock, held: () => held(), folder: (id: string) => join(stateDir, 'restore', id) };
}

test('a phase that ended well holds backups until the next phase is due; EndRestore drops the hold at once', async () => {
  const s = await setup();
  await s.phase('restore-a', 'fetch');
  assert.match(s.held() ?? '', /restore restore-a of backup .* is running on this node \(between phases, after fetch; the hold ends within 60 s\)/);
  assert.is(s.c.end('restore-other'), false, 'another restore id ends nothing');
  assert.ok(s.held());
  assert.is(s.c.end('restore-a'), true);
  assert.is(s.held(), null);
  // Resumed with the same id: its next phase holds again, and the hold still runs out by itself.
  await s.phase('restore-a', 'schema');
  assert.ok(s.held());
  s.clock.now += BETWEEN_PHASES_MS;
  assert.is(s.held(), null);
});

test('EndRestore while a phase still settles (an interrupted run): no hold once it ends', async () => {
  let open!: () => void;
  const s = await setup({ gate: new Promise<void>((r) => (open = r)) });
  const running = s.phase('restore-b', 'fetch');
  await new Promise((r) => setTimeout(r, 20));
  assert.match(s.held() ?? '', /is running on this node \(phase fetch\)/);
  assert.is(s.c.end('restore-b'), true);
  assert.ok(s.held(), 'a phase in flight still runs');
  open();
  await running;
  assert.is(s.held(), null);
});

test('ClearRestore: refused while a phase runs and between phases until ended; then the folder goes, once', async () => {
  let open!: () => void;
  const s = await setup({ gate: new Promise<void>((r) => (open = r)) });
  const running = s.phase('restore-c', 'fetch');
  await new Promise((r) => setTimeout(r, 20));
  await rejects(() => s.c.clear('restore-c'), /restore restore-c is running on this node \(phase fetch\): stop its 'tandem restore' first/);
  open();
  await running;
  assert.ok(existsSync(join(s.folder('restore-c'), 'restore.json')));
  await rejects(() => s.c.clear('restore-c'), /restore restore-c is between phases on this node \(after fetch\) and its coordinator has not ended it: .*wait 60 s/);
  s.c.end('restore-c');
  assert.equal(await s.c.clear('restore-c'), { existed: true, backupId: SET_ID });
  assert.is(existsSync(s.folder('restore-c')), false);
  assert.equal(await s.c.clear('restore-c'), { existed: false, backupId: '' });
  await rejects(() => s.c.clear('../etc'), /restoreId: "\.\.\/etc" must match/);
});

test('an abandoned restore (its coordinator died between phases) is clearable once its hold ran out', async () => {
  const s = await setup();
  await s.phase('restore-d', 'load');
  await rejects(() => s.c.clear('restore-d'), /between phases/);
  s.clock.now += BETWEEN_PHASES_MS;
  assert.equal((await s.c.clear('restore-d')).existed, true);
});

test('the cleanup phase holds nothing, as before', async () => {
  const s = await setup();
  await s.phase('restore-e', 'cleanup');
  assert.is(s.held(), null);
});

test.run();
