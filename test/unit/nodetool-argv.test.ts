/** The cassandra role's programs run through the injected runner: the argv it builds, table-driven. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PassThrough } from 'node:stream';
import { Nodetool } from '../../agent/roles/cassandra/nodetool';
import { SnapshotTrigger } from '../../agent/roles/cassandra/trigger';
import { CommandError } from '../../shared/errors';
import type { CommandRunner, ProcessSpawner, RunOptions } from '../../shared/exec';

/** A runner that records each call and answers with canned stdout. */
function fakeRunner(stdout = '') {
  const calls: { argv: string[]; options?: RunOptions }[] = [];
  const run: CommandRunner = async (argv, options) => {
    calls.push({ argv: [...argv], options });
    return { stdout, stderr: '', exitCode: 0 };
  };
  return { run, calls };
}

const NT = '/opt/cassandra/bin/nodetool';
const cases: [string, (n: Nodetool) => Promise<unknown>, string[]][] = [
  ['status', (n) => n.status(), [NT, 'status']],
  ['schema versions', (n) => n.schemaVersions(), [NT, 'describecluster']],
  ['version', (n) => n.version(), [NT, 'version']],
  ['snapshot tags', (n) => n.snapshotTags(), [NT, 'listsnapshots']],
  ['snapshot', (n) => n.snapshot('tandem-x', 'thehive'), [NT, 'snapshot', '-t', 'tandem-x', '--', 'thehive']],
  ['clear snapshot', (n) => n.clearSnapshot('tandem-x', 'thehive'), [NT, 'clearsnapshot', '-t', 'tandem-x', '--', 'thehive']],
  ['repair', (n) => n.repair('thehive'), [NT, 'repair', '--', 'thehive']],
];

for (const [name, call, argv] of cases) {
  test(`nodetool ${name}: one argv, names after --, a deadline`, async () => {
    // Output every parser accepts: version() refuses output without its ReleaseVersion line.
    const fake = fakeRunner('ReleaseVersion: 5.0.8\n');
    await call(new Nodetool(NT, fake.run));
    assert.equal(fake.calls.map((c) => c.argv), [argv]);
    assert.ok((fake.calls[0].options?.timeoutMs ?? 0) > 0, 'every call has a timeout');
  });
}

test('nodetool: the runner\'s output is parsed, and the repair carries the caller\'s signal', async () => {
  const fake = fakeRunner('ReleaseVersion: 5.0.4\n');
  const n = new Nodetool(NT, fake.run);
  assert.is(await n.version(), '5.0.4');
  const ac = new AbortController();
  await n.repair('thehive', ac.signal);
  assert.is(fake.calls[1].options?.signal, ac.signal);
});

/** A spawner whose program is played by the test: it reads what the trigger writes and answers. */
function fakeJvm(answer: (line: string) => string | null, first = 'READY') {
  const started: { argv: string[]; env?: Record<string, string> }[] = [];
  const written: string[] = [];
  let exit!: (err?: Error) => void;
  const spawn: ProcessSpawner = (argv, options) => {
    started.push({ argv: [...argv], env: options?.env });
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const done = new Promise<void>((resolve, reject) => (exit = (e) => (e ? reject(e) : resolve())));
    done.catch(() => undefined);
    stdin.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        written.push(line);
        const reply = answer(line);
        if (reply) stdout.write(`${reply}\n`);
      }
    });
    setImmediate(() => (first ? stdout.write(`${first}\n`) : exit(new CommandError(argv, 1, null, 'java.net.ConnectException: Connection refused'))));
    return { stdin, stdout, done, stderrTail: () => (first ? '' : 'Caused by: java.net.ConnectException: Connection refused'), kill: () => exit() };
  };
  return { spawn, started, written };
}

test('snapshot trigger: the JVM\'s argv and environment, then one SNAPSHOT line per commit', async () => {
  const jvm = fakeJvm((l) => (l.startsWith('SNAPSHOT ') ? 'DONE 100 105' : null));
  const t = await SnapshotTrigger.start('/usr/bin/java', '127.0.0.1', 7199, { JAVA_TOOL_OPTIONS: '-Dx=1' }, jvm.spawn);
  const { argv, env } = jvm.started[0];
  assert.equal(argv.slice(0, 3), ['/usr/bin/java', '-Xmx64m', '-XX:TieredStopAtLevel=1']);
  assert.match(argv[3], /SnapshotTrigger\.java$/);
  assert.equal(argv.slice(4), ['127.0.0.1', '7199']);
  assert.equal(env, { JAVA_TOOL_OPTIONS: '-Dx=1' });
  assert.equal(await t.snapshot('tandem-x', ['thehive', 'other']), { startedAt: 100, endedAt: 105 });
  assert.equal(jvm.written, ['SNAPSHOT tandem-x thehive,other']);
  t.close();
});

test('snapshot trigger: a JVM that cannot connect is a CommandError naming the deepest cause', async () => {
  const jvm = fakeJvm(() => null, '');
  const err = await SnapshotTrigger.start('java', '127.0.0.1', 7199, {}, jvm.spawn).catch((e: Error) => e);
  assert.instance(err, CommandError);
  assert.is((err as CommandError).exitCode, 1);
  assert.match((err as Error).message, /JMX at 127\.0\.0\.1:7199 .*Caused by: java\.net\.ConnectException/);
});

test.run();
