/**
 * Scratch folders of the tests (test/helpers/scratch.ts): a process that made them leaves none
 * behind, however it ends, unless TANDEM_KEEP_SCRATCH=1; and no test makes a temporary folder any
 * other way.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { removeScratch, removeTree, scratchDir, scratchDirSync } from '../helpers/scratch';

const ROOT = resolve(__dirname, '../../..');
const SCRATCH_JS = join(ROOT, 'dist/test/helpers/scratch.js');
const parent = scratchDirSync('scratch-test');

/**
 * A process that makes two scratch folders (one holding a read-only folder with a file), then
 * ends as `how` says: `end` (its event loop runs dry), `exit` (process.exit(3), as uvu does on a
 * failure), `signal` (SIGTERM, which it does not handle).
 */
const CHILD = `
const fs = require('node:fs');
const path = require('node:path');
const s = require(process.env.SCRATCH_JS);
(async () => {
  s.scratchDirSync('child', process.env.PARENT);
  const b = await s.scratchDir('child', process.env.PARENT);
  fs.mkdirSync(path.join(b, 'ro', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(b, 'ro', 'deep', 'f'), 'x');
  fs.chmodSync(path.join(b, 'ro'), 0o500);
  if (process.env.HOW === 'exit') process.exit(3);
  if (process.env.HOW === 'signal') {
    setTimeout(() => undefined, 60_000);
    process.kill(process.pid, 'SIGTERM');
  }
})();
`;

function child(how: 'end' | 'exit' | 'signal', env: Record<string, string> = {}) {
  const into = scratchDirSync('child-parent', parent);
  const r = spawnSync(process.execPath, ['-e', CHILD], { env: { ...process.env, TANDEM_KEEP_SCRATCH: '', ...env, SCRATCH_JS, PARENT: into, HOW: how }, encoding: 'utf8' });
  return { ...r, into, left: readdirSync(into) };
}

test('folders are removed when the process ends, exits through process.exit, or dies of a signal it does not handle', () => {
  const end = child('end');
  assert.is(end.status, 0, end.stderr);
  assert.equal(end.left, []);
  const exit = child('exit');
  assert.is(exit.status, 3, 'the exit code is the program\'s');
  assert.equal(exit.left, []);
  const signal = child('signal');
  assert.is(signal.signal, 'SIGTERM', 'it still dies of the signal');
  assert.equal(signal.left, []);
  assert.is(end.stderr + exit.stderr + signal.stderr, '', 'nothing to report');
});

test('TANDEM_KEEP_SCRATCH=1 keeps them and names each one on stderr', () => {
  const kept = child('exit', { TANDEM_KEEP_SCRATCH: '1' });
  assert.is(kept.left.length, 2);
  assert.ok(kept.left.every((d) => d.startsWith('tandem-child-')), kept.left.join());
  assert.match(kept.stderr, 'TANDEM_KEEP_SCRATCH=1, kept 2 folder(s)');
  for (const d of kept.left) assert.match(kept.stderr, join(kept.into, d));
  for (const d of kept.left) assert.is(removeTree(join(kept.into, d)), null, 'a read-only folder inside is removed too');
});

test('a folder is named tandem-<what>-, private, and removeScratch takes it at once', async () => {
  const dir = await scratchDir('named', parent);
  assert.match(relative(parent, dir), /^tandem-named-[A-Za-z0-9]{6}$/);
  assert.is(statSync(dir).mode & 0o777, 0o700);
  removeScratch(dir);
  assert.not.ok(readdirSync(parent).includes(relative(parent, dir)));
});

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('no test, bench or fault case makes a temporary folder but through the scratch helper', () => {
  // Built from pieces so that this file does not match itself.
  const direct = new RegExp(['\\bmkdtemp', '(Sync)?\\(|\\btmp', 'dir\\(\\)\\s*[,)]'].join(''));
  const offenders = sources(join(ROOT, 'test'))
    .filter((f) => !f.endsWith(join('helpers', 'scratch.ts')))
    .filter((f) => direct.test(readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')))
    .map((f) => relative(ROOT, f));
  assert.equal(offenders, [], 'use scratchDir / scratchDirSync from test/helpers/scratch.ts');
});

test.run();
