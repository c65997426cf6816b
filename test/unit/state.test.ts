/** The agent's backup state machine, as pure functions. */
import { backupOptionsSchema } from '../../shared/wire/backup-options';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canTransition, isActive, isTerminal, leaseExpired, preparedRecord, transition, type BackupState } from '../../agent/backup/state';

const plan = { backupId: 'b1', tag: 'b1', leaseMs: 1000, destination: { type: 'local' as const, path: '/tmp' }, options: backupOptionsSchema.parse({}) };

test('the allowed transitions, and only those', () => {
  const all: BackupState[] = ['prepared', 'committed', 'shipping', 'done', 'aborted', 'failed'];
  const allowed = new Set(['prepared>committed', 'prepared>aborted', 'committed>shipping', 'committed>failed', 'committed>aborted',
    'shipping>done', 'shipping>failed', 'shipping>aborted', 'done>aborted', 'failed>aborted']);
  for (const from of all) for (const to of all) assert.is(canTransition(from, to), allowed.has(`${from}>${to}`), `${from} → ${to}`);
});

test('a done backup can only be aborted, and an aborted one nothing more', () => {
  let rec = preparedRecord(plan, 0);
  for (const to of ['committed', 'shipping', 'done'] as const) rec = transition(rec, to, 1);
  assert.throws(() => transition(rec, 'shipping', 2), /backup b1 is done and cannot become shipping/);
  rec = transition(rec, 'aborted', 2);
  assert.throws(() => transition(rec, 'done', 3), /backup b1 is aborted and cannot become done/);
});

test('transition refuses what is not allowed, naming the backup', () => {
  const rec = preparedRecord(plan, 0);
  assert.throws(() => transition(rec, 'done', 1), /backup b1 is prepared and cannot become done/);
  const c = transition(rec, 'committed', 5, { committedAt: 5 });
  assert.is(c.state, 'committed');
  assert.is(c.committedAt, 5);
  assert.is(rec.state, 'prepared', 'records are not mutated');
});

test('the lease runs from prepare and only matters while prepared', () => {
  const rec = preparedRecord(plan, 100);
  assert.is(rec.leaseExpiresAt, 1100);
  assert.not.ok(leaseExpired(rec, 1099));
  assert.ok(leaseExpired(rec, 1100));
  assert.not.ok(leaseExpired(transition(rec, 'committed', 200), 5000));
});

test('active and terminal states', () => {
  assert.ok(isActive('prepared') && isActive('committed') && isActive('shipping'));
  assert.ok(isTerminal('done') && isTerminal('aborted') && isTerminal('failed'));
  assert.not.ok(isActive('done') || isTerminal('shipping'));
});

test.run();
