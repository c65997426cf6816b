/** The helper JVM's classes: compiled once into the agent's stateDir and used again by a later start. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { helperClasses } from '../../agent/roles/cassandra/helper-classes';
import type { CommandRunner } from '../../shared/exec';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const base = scratchDirSync('helper-classes');
test.after(() => removeScratch(base));

/** A compiler played by the test: it makes the -d folder, as javac would, and records its argv. */
function fakeCompiler() {
  const calls: string[][] = [];
  const run: CommandRunner = async (argv) => {
    calls.push([...argv]);
    mkdirSync(argv[argv.indexOf('-d') + 1], { recursive: true });
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  return { run, calls };
}

test('classes compiled into the cache are used again by a later start; another classpath compiles again', async () => {
  const cache = join(base, 'state', 'java-classes');
  const first = fakeCompiler();
  const a = await helperClasses('/usr/bin/java', '/opt/cassandra/lib/*', first.run, cache);
  assert.is(first.calls.length, 2, 'the helper, then the row counter');
  assert.ok(first.calls.every((c) => c.includes('jdk.compiler/com.sun.tools.javac.Main')));
  assert.is(statSync(cache).mode & 0o777, 0o700, 'the cache folder is private');
  assert.equal(readdirSync(cache).filter((d) => d.startsWith('.compiling-')), [], 'no half entry left');

  // A later agent process: the same sources, classpath and java (the trailing slash only makes its own memo key).
  const later = fakeCompiler();
  const b = await helperClasses('/usr/bin/java', '/opt/cassandra/lib/*', later.run, `${cache}/`);
  assert.is(later.calls.length, 0, 'nothing compiled');
  assert.is(b.classpath, a.classpath);
  assert.is(b.counterProblem, null);

  const other = fakeCompiler();
  const c = await helperClasses('/usr/bin/java', '/usr/share/cassandra/lib/*', other.run, cache);
  assert.is(other.calls.length, 2);
  assert.is.not(c.classpath, a.classpath);
});

test('a row counter that does not compile is a problem named with the setting, not a failed helper', async () => {
  const calls: string[][] = [];
  const run: CommandRunner = async (argv) => {
    calls.push([...argv]);
    if (argv.includes('-classpath')) throw new Error('package org.apache.cassandra.config does not exist');
    mkdirSync(argv[argv.indexOf('-d') + 1], { recursive: true });
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  const r = await helperClasses('/usr/bin/java', '/nowhere/*', run, join(base, 'state2'));
  assert.match(r.counterProblem ?? '', /roles\.cassandra\.classpath.*org\.apache\.cassandra\.config/);
});

/** A compiler whose every run fails as javac does on a JRE without jdk.compiler, after making its -d folder. */
const failingCompiler: CommandRunner = async (argv) => {
  mkdirSync(argv[argv.indexOf('-d') + 1], { recursive: true });
  throw new Error('Module jdk.compiler not found');
};

test('a helper that does not compile leaves no half entry in the cache folder', async () => {
  const cache = join(base, 'state3', 'java-classes');
  for (let i = 0; i < 2; i++) {
    await helperClasses('/opt/jre/bin/java', '/opt/cassandra/lib/*', failingCompiler, cache).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /roles\.cassandra\.java must be a JDK 11\+/));
  }
  assert.equal(readdirSync(cache), [], 'each failed try removed its .compiling- folder');
});

test('without a cache folder, a failed compile removes its folder under the temp dir at once', async () => {
  const tmp = join(base, 'tmp');
  mkdirSync(tmp);
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    await helperClasses('/opt/jre2/bin/java', '/opt/cassandra/lib/*', failingCompiler).then(() => assert.unreachable(), () => undefined);
    assert.equal(readdirSync(tmp), []);
    const ok = fakeCompiler();
    const r = await helperClasses('/opt/jdk/bin/java', '/opt/cassandra/lib/*', ok.run);
    // The helper JVM runs from it: it stays while this process lives (removed at exit).
    assert.equal(readdirSync(tmp).filter((d) => d.startsWith('tandem-java-')).length, 1);
    assert.ok(r.classpath.startsWith(join(tmp, 'tandem-java-')), r.classpath);
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
});

test.run();
