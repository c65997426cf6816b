/** The coordinator's backup lock: one backup per state folder, stale locks taken over. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireBackupLock, LOCK_FILE } from '../../coordinator/backup/lock';
import { ConfigError, ConflictError } from '../../shared/errors';
import { scratchDirSync } from '../helpers/scratch';

/** A new state folder that exists, empty. */
const stateDir = () => {
  const dir = join(scratchDirSync('lock'), 'state');
  mkdirSync(dir);
  return dir;
};
const noWarning = (m: string) => assert.unreachable(`unexpected warning: ${m}`);
const lockOf = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
/** A pid that was just used and is gone. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

test('the lock names its backup, pid, host and start; released, it is gone', () => {
  const dir = stateDir();
  const lock = acquireBackupLock(dir, 'set-a', noWarning);
  const held = lockOf(dir);
  assert.equal({ ...held, startedAt: typeof held.startedAt }, { pid: process.pid, backupId: 'set-a', startedAt: 'string', host: hostname() });
  assert.equal(readdirSync(dir), [LOCK_FILE], 'no temporary file is left');
  lock.release();
  lock.release();
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
  acquireBackupLock(dir, 'set-b', noWarning).release();
});

test('a live holder refuses a second backup, naming its backup id and pid', () => {
  const dir = stateDir();
  const lock = acquireBackupLock(dir, 'set-a', noWarning);
  const err = (() => {
    try {
      acquireBackupLock(dir, 'set-b', noWarning);
    } catch (e) {
      return e as Error;
    }
  })();
  assert.instance(err, ConflictError);
  assert.match(err!.message, new RegExp(`backup set-a \\(pid ${process.pid} on `));
  assert.is(lockOf(dir).backupId, 'set-a', 'the holder keeps its lock');
  lock.release();
});

test('a lock whose process is gone is taken over, with a warning naming it', () => {
  const dir = stateDir();
  const pid = deadPid();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, backupId: 'set-old', startedAt: '2026-01-01T00:00:00.000Z', host: hostname() }));
  const warnings: string[] = [];
  const lock = acquireBackupLock(dir, 'set-new', (m) => warnings.push(m));
  assert.is(warnings.length, 1);
  assert.match(warnings[0], new RegExp(`stale lock .* of backup set-old: pid ${pid} on .* is gone`));
  assert.equal([lockOf(dir).backupId, lockOf(dir).pid], ['set-new', process.pid]);
  lock.release();
});

test('a lock from another host cannot be checked: it holds', () => {
  const dir = stateDir();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), backupId: 'set-far', startedAt: '2026-01-01T00:00:00.000Z', host: `not-${hostname()}` }));
  assert.throws(() => acquireBackupLock(dir, 'set-new', noWarning), /backup set-far \(pid \d+ on not-/);
});

test('release leaves a lock that is no longer this one', () => {
  const dir = stateDir();
  const lock = acquireBackupLock(dir, 'set-a', noWarning);
  const other = JSON.stringify({ pid: 1, backupId: 'set-other', startedAt: '2026-01-01T00:00:00.000Z', host: hostname() });
  writeFileSync(join(dir, LOCK_FILE), other);
  lock.release();
  assert.is(readFileSync(join(dir, LOCK_FILE), 'utf8'), other);
});

test('a file that is not a lock, and a state folder that cannot be written, are refused with what to do', () => {
  const dir = stateDir();
  writeFileSync(join(dir, LOCK_FILE), 'garbage');
  assert.throws(() => acquireBackupLock(dir, 'set-b', noWarning), /is not a tandem backup lock; remove it if no tandem backup is running/);
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  const err = (() => {
    try {
      acquireBackupLock(join(file, 'state'), 'set-b', noWarning);
    } catch (e) {
      return e as Error;
    }
  })();
  assert.instance(err, ConfigError);
  assert.match(err!.message, /cannot write the backup lock in stateDir .*a-file\/state: .*set the fleet file's stateDir/);
});

test.run();
