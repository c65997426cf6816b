/** The destination lock on a local destination: conditional writes, one winner, expiry, takeover, renewal, release. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  acquireDestinationLock, DESTINATION_LOCK_FORMAT, type DestinationLease, type DestinationLockOptions,
} from '../../coordinator/backup/destination-lock';
import { AlreadyExistsError, contentVersion, LocalDestination, VersionMismatchError } from '../../shared/destination';
import { DESTINATION_LOCK_FILE } from '../../shared/destination/layout';
import { ConflictError } from '../../shared/errors';
import { scratchDirSync } from '../helpers/scratch';

const destination = () => {
  const path = scratchDirSync('dest-lock');
  return { path, dest: new LocalDestination({ type: 'local', path }) };
};
const noWarning = (m: string) => assert.unreachable(`unexpected warning: ${m}`);
const notLost = () => assert.unreachable('the lease was lost');
const opts = (o: Partial<DestinationLockOptions> = {}): DestinationLockOptions => ({ verb: 'backup', stateDir: '/var/lib/tandem', warn: noWarning, onLost: notLost, ...o });
const leaseIn = (path: string): DestinationLease => JSON.parse(readFileSync(join(path, DESTINATION_LOCK_FILE), 'utf8'));
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
const refusal = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.unreachable('it was not refused');
  throw new Error('unreachable');
};

test('createExclusive: of two contenders one wins, the other gets AlreadyExistsError; no temporary is left', async () => {
  const { path, dest } = destination();
  const results = await Promise.allSettled([dest.createExclusive('a/lease.json', 'one\n'), dest.createExclusive('a/lease.json', 'two\n')]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.is(won.length, 1);
  assert.ok(lost[0].reason instanceof AlreadyExistsError, String(lost[0].reason));
  const content = readFileSync(join(path, 'a/lease.json'), 'utf8');
  assert.is((won[0] as PromiseFulfilledResult<string>).value, contentVersion(content));
  assert.equal(readdirSync(join(path, 'a')), ['lease.json']);
});

test('replaceIf: replaces only the version read; a stale version or a missing file is a VersionMismatchError', async () => {
  const { path, dest } = destination();
  const v1 = await dest.createExclusive('f.json', 'v1');
  const v2 = await dest.replaceIf('f.json', 'v2', v1);
  assert.is(readFileSync(join(path, 'f.json'), 'utf8'), 'v2');
  assert.ok((await refusal(dest.replaceIf('f.json', 'v3', v1))) instanceof VersionMismatchError);
  assert.is(readFileSync(join(path, 'f.json'), 'utf8'), 'v2', 'a refused replace puts the file back');
  const both = await Promise.allSettled([dest.replaceIf('f.json', 'x', v2), dest.replaceIf('f.json', 'y', v2)]);
  assert.is(both.filter((r) => r.status === 'fulfilled').length, 1, 'two replaces of one version: one wins');
  assert.equal(readdirSync(path), ['f.json']);
  assert.ok((await refusal(dest.replaceIf('gone.json', 'x', v1))) instanceof VersionMismatchError);
  assert.equal(await dest.readVersioned('gone.json', 100), null);
});

test('the lease names its holder; a second coordinator is refused at once naming host, pid, verb and expiry', async () => {
  const { path, dest } = destination();
  const lock = await acquireDestinationLock(dest, opts({ verb: 'backup' }));
  const lease = leaseIn(path);
  assert.equal({ ...lease, holder: lease.holder.length, acquiredAt: typeof lease.acquiredAt }, {
    format: DESTINATION_LOCK_FORMAT, holder: 32, verb: 'backup', host: hostname(), pid: process.pid, stateDir: '/var/lib/tandem',
    acquiredAt: 'string', expiresAt: lease.expiresAt,
  });
  const err = await refusal(acquireDestinationLock(dest, opts({ verb: 'prune', stateDir: '/other' })));
  assert.ok(err instanceof ConflictError);
  assert.match(err.message, `another tandem backup holds the destination lock of local:${path} since ${lease.acquiredAt} (host ${hostname()} pid ${process.pid}`);
  assert.match(err.message, `until ${lease.expiresAt}`);
  assert.not.match(err.message, 'another tandem backup is running', "the state folder lock's phrase stays its own");
  await lock.release();
  assert.not.ok(existsSync(join(path, DESTINATION_LOCK_FILE)));
  await lock.release();
  (await acquireDestinationLock(dest, opts({ verb: 'prune' }))).release();
});

test('an expired lease is taken over, the warning naming the old holder; the old holder learns it at its renewal', async () => {
  const { path, dest } = destination();
  let clock = Date.parse('2026-12-07T10:00:00Z');
  const lostErrors: ConflictError[] = [];
  const first = await acquireDestinationLock(dest, opts({ now: () => clock, ttlMs: 60_000, renewEveryMs: 3_600_000, onLost: (e) => lostErrors.push(e) }));
  clock += 61_000;
  const warnings: string[] = [];
  const second = await acquireDestinationLock(dest, opts({ verb: 'prune', stateDir: '/other', now: () => clock, warn: (m) => warnings.push(m) }));
  assert.is(warnings.length, 1);
  assert.match(warnings[0], `taking over the expired destination lock of local:${path}: tandem backup (host ${hostname()} pid ${process.pid}`);
  assert.not.match(warnings[0], 'taking over the stale lock');
  assert.is(leaseIn(path).verb, 'prune');
  const err = await refusal(first.renew());
  assert.match(err.message, 'was taken by tandem prune');
  assert.is(lostErrors.length, 1, 'onLost is called once');
  await first.release();
  assert.is(leaseIn(path).verb, 'prune', 'a lost lease is not removed by its old holder');
  await second.release();
});

test('renewal pushes the expiry forward, on the timer too', async () => {
  const { path, dest } = destination();
  let clock = Date.parse('2026-12-07T10:00:00Z');
  const lock = await acquireDestinationLock(dest, opts({ now: () => clock, ttlMs: 120_000, renewEveryMs: 20 }));
  const before = leaseIn(path).expiresAt;
  clock += 30_000;
  await lock.renew();
  assert.is(leaseIn(path).expiresAt, new Date(clock + 120_000).toISOString());
  assert.ok(leaseIn(path).expiresAt > before);
  clock += 30_000;
  await new Promise((r) => setTimeout(r, 120));
  assert.is(leaseIn(path).expiresAt, new Date(clock + 120_000).toISOString(), 'the timer renewed it');
  await lock.release();
  assert.not.ok(existsSync(join(path, DESTINATION_LOCK_FILE)));
});

test('a lease of a dead process on this host is taken over at once', async () => {
  const { path, dest } = destination();
  const dead: DestinationLease = {
    format: DESTINATION_LOCK_FORMAT, holder: 'a'.repeat(32), verb: 'backup', host: hostname(), pid: deadPid(), stateDir: '/var/lib/tandem',
    acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 100_000).toISOString(),
  };
  writeFileSync(join(path, DESTINATION_LOCK_FILE), JSON.stringify(dead));
  const warnings: string[] = [];
  const lock = await acquireDestinationLock(dest, opts({ warn: (m) => warnings.push(m) }));
  assert.match(warnings[0], `abandoned destination lock`);
  assert.match(warnings[0], `pid ${dead.pid}`);
  await lock.release();
});

test('a lease of another host is held until it expires, whatever its pid', async () => {
  const { path, dest } = destination();
  const other: DestinationLease = {
    format: DESTINATION_LOCK_FORMAT, holder: 'b'.repeat(32), verb: 'recover', host: 'coordinator-2.example', pid: deadPid(), stateDir: '/srv/tandem',
    acquiredAt: '2026-12-07T10:00:00.000Z', expiresAt: new Date(Date.now() + 100_000).toISOString(),
  };
  writeFileSync(join(path, DESTINATION_LOCK_FILE), JSON.stringify(other));
  const err = await refusal(acquireDestinationLock(dest, opts()));
  assert.match(err.message, `another tandem recover holds the destination lock of local:${path} since 2026-12-07T10:00:00.000Z (host coordinator-2.example pid ${other.pid}, state folder /srv/tandem)`);
});

test('a lock file that is no lease is refused, named, and never overwritten; expired or not', async () => {
  const { path, dest } = destination();
  for (const garbage of ['not json', '{"format":"tandem.lock/v2"}', JSON.stringify({ format: DESTINATION_LOCK_FORMAT, holder: 'x' })]) {
    writeFileSync(join(path, DESTINATION_LOCK_FILE), garbage);
    const err = await refusal(acquireDestinationLock(dest, opts()));
    assert.ok(err instanceof ConflictError);
    assert.match(err.message, `local:${path}: ${DESTINATION_LOCK_FILE} is not a tandem lock`);
    assert.match(err.message, `remove ${DESTINATION_LOCK_FILE} from its root`);
    assert.is(readFileSync(join(path, DESTINATION_LOCK_FILE), 'utf8'), garbage);
  }
});

test('an escape sequence in a planted lease is printed escaped', async () => {
  const { path, dest } = destination();
  const planted = {
    format: DESTINATION_LOCK_FORMAT, holder: 'c'.repeat(32), verb: 'prune', host: 'evil\u001b[2Jhost', pid: 1, stateDir: '/s',
    acquiredAt: '2026-12-07T10:00:00.000Z', expiresAt: new Date(Date.now() + 100_000).toISOString(),
  };
  writeFileSync(join(path, DESTINATION_LOCK_FILE), JSON.stringify(planted));
  const err = await refusal(acquireDestinationLock(dest, opts()));
  assert.not.match(err.message, '\u001b');
  assert.match(err.message, 'evil\\u{1b}[2Jhost');
});

test('the lock file is a file at the root that no listing of sets takes for one', async () => {
  const { dest } = destination();
  const lock = await acquireDestinationLock(dest, opts());
  assert.equal(await dest.folders(''), []);
  await lock.release();
});

test.run();
