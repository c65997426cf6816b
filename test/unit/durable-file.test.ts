/** Durable state files (shared/durable-file.ts): replaced whole, and a failed write leaves no temporary file beside them. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { removeQuietly, writeFileDurably } from '../../shared/durable-file';
import { scratchDirSync } from '../helpers/scratch';

const dir = scratchDirSync('durable-file');

test('a state file is replaced whole; nothing else is left in its folder', () => {
  const file = join(dir, 'journal.json');
  writeFileDurably(file, '{"a":1}\n');
  writeFileDurably(file, '{"a":2}\n');
  assert.is(readFileSync(file, 'utf8'), '{"a":2}\n');
  assert.equal(readdirSync(dir), ['journal.json']);
});

test('a write that cannot replace its name throws and leaves no temporary file', () => {
  const sub = join(dir, 'blocked');
  // A folder holding a file under the state file's name: rename(2) cannot replace it.
  mkdirSync(join(sub, 'restore.json'), { recursive: true });
  writeFileSync(join(sub, 'restore.json', 'x'), 'x');
  assert.throws(() => writeFileDurably(join(sub, 'restore.json'), '{}\n'));
  assert.equal(readdirSync(sub), ['restore.json']);
});

test('removeQuietly never throws, whatever is there', () => {
  removeQuietly(join(dir, 'never-written.tmp'));
  removeQuietly(join(dir, 'no-such-folder', 'x.tmp'));
});

test.run();
