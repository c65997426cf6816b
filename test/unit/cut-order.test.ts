/** The order of a Commit's cuts on one agent: the leading role's trigger leaves before the others cut. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cutRoles } from '../../agent/backup/cut';
import { Timelines } from '../../agent/backup/timeline';
import type { Role, RoleContext } from '../../agent/roles/role';
import { silentLogger } from '../../shared/log';

const tick = () => new Promise((r) => setImmediate(r));
const files = { cutAt: 1_700_000_000_000, store: 'localfs', location: '/srv/files' };

/** A role whose commit is played by the test; only what the cut calls is there. */
function role(name: Role['name'], commit: (ctx: RoleContext) => Promise<unknown>, leadsCut = false): Role {
  return { name, leadsCut, commit } as unknown as Role;
}

const run = (roles: Role[], commits: Record<string, unknown> = {}) =>
  cutRoles({ backupId: 'b', roles, timelines: new Timelines(silentLogger()), contextOf: () => ({}) as RoleContext }, commits);

test('cut: the other roles wait for the leading role\'s trigger, not for its end', async () => {
  const events: string[] = [];
  let trigger!: () => void;
  let finish!: () => void;
  const cassandra = role('cassandra', async (ctx) => {
    events.push('cassandra asked');
    await new Promise<void>((r) => (trigger = r));
    ctx.cutStarted?.();
    await new Promise<void>((r) => (finish = r));
    events.push('cassandra done');
    return { tag: 'tandem-b', keyspaces: ['thehive'], cutAt: files.cutAt, requestedAt: files.cutAt, returnedAt: files.cutAt, tables: 1 };
  }, true);
  const files_ = role('files', async () => (events.push('files cut'), files));
  const commits: Record<string, unknown> = {};
  const cut = run([files_, cassandra], commits);
  await tick();
  assert.equal(events, ['cassandra asked'], 'files waits, whatever its place in the list');
  trigger();
  await tick();
  assert.equal(events, ['cassandra asked', 'files cut']);
  finish();
  await cut;
  assert.equal(Object.keys(commits).sort(), ['cassandra', 'files']);
});

test('cut: a leading role that never says it started lets the others cut when it ends', async () => {
  const events: string[] = [];
  const cassandra = role('cassandra', async () => {
    await tick();
    events.push('cassandra done');
    return { tag: 'tandem-b', keyspaces: ['*'], cutAt: files.cutAt, requestedAt: files.cutAt, returnedAt: files.cutAt, tables: 0 };
  }, true);
  await run([cassandra, role('files', async () => (events.push('files cut'), files))]);
  assert.equal(events, ['cassandra done', 'files cut']);
});

test('cut: a leading role that fails before its trigger left: the others never cut, the failure is thrown', async () => {
  let filesCut = false;
  const cassandra = role('cassandra', async () => {
    throw new Error('JMX refused');
  }, true);
  const commits: Record<string, unknown> = {};
  await run([cassandra, role('files', async () => ((filesCut = true), files))], commits).then(
    () => assert.unreachable('the cut must fail'),
    (err: Error) => assert.is(err.message, 'JMX refused'),
  );
  await tick();
  assert.not.ok(filesCut);
  assert.equal(commits, {});
});

test('cut: without a leading role every role cuts at once', async () => {
  const events: string[] = [];
  await run([
    role('files', async () => (events.push('files'), await tick(), files)),
    role('rehearsal' as Role['name'], async () => (events.push('rehearsal'), await tick(), { cutAt: files.cutAt })),
  ]);
  assert.equal(events, ['files', 'rehearsal']);
});

test.run();
