/** The cassandra role's programs run through the injected runner: the argv it builds, table-driven. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PassThrough } from 'node:stream';
import { Nodetool } from '../../agent/roles/cassandra/nodetool';
import { CassandraHelper } from '../../agent/roles/cassandra/helper';
import { parseRing, parseSchemaReply, parseSnapshotList } from '../../agent/roles/cassandra/helper-replies';
import { CommandError, TandemError, ValidationError } from '../../shared/errors';
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
  ['repair', (n) => n.repair('thehive'), [NT, 'repair', '--', 'thehive']],
];

for (const [name, call, argv] of cases) {
  test(`nodetool ${name}: one argv, names after --, a deadline`, async () => {
    const fake = fakeRunner('');
    await call(new Nodetool(NT, fake.run));
    assert.equal(fake.calls.map((c) => c.argv), [argv]);
    assert.ok((fake.calls[0].options?.timeoutMs ?? 0) > 0, 'every call has a timeout');
  });
}

test('nodetool: the runner\'s output is parsed, and the repair carries the caller\'s signal', async () => {
  const fake = fakeRunner('Datacenter: dc1\nUN  127.0.0.1  114 KiB  16  100.0%  fec137df-779a-4f3c-a341-1b15517e5509  rack1\n');
  const n = new Nodetool(NT, fake.run);
  assert.equal(await n.status(), [{ state: 'UN', address: '127.0.0.1', datacenter: 'dc1', hostId: 'fec137df-779a-4f3c-a341-1b15517e5509' }]);
  const ac = new AbortController();
  await n.repair('thehive', ac.signal);
  assert.is(fake.calls[1].options?.signal, ac.signal);
});

/** A spawner whose program is played by the test: it reads what the helper writes and answers. */
function fakeJvm(answer: (words: string[]) => string | { later: string } | null, first = 'READY 5.0.8') {
  const started: { argv: string[]; env?: Record<string, string> }[] = [];
  const written: string[] = [];
  const exits: ((err?: Error) => void)[] = [];
  const outs: PassThrough[] = [];
  const spawn: ProcessSpawner = (argv, options) => {
    started.push({ argv: [...argv], env: options?.env });
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    outs.push(stdout);
    let exit!: (err?: Error) => void;
    const done = new Promise<void>((resolve, reject) => (exit = (e) => (e ? reject(e) : resolve())));
    exits.push(exit);
    done.catch(() => undefined);
    stdin.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        written.push(line);
        const [id, ...words] = line.split(' ');
        const reply = answer(words);
        if (typeof reply === 'string') stdout.write(`${id} ${reply}\n`);
        else if (reply) setTimeout(() => stdout.write(`${id} ${reply.later}\n`), 30);
      }
    });
    setImmediate(() => (first ? stdout.write(`${first}\n`) : exit(new CommandError(argv, 3, null, 'java.io.IOException: no\nCaused by: java.net.ConnectException: Connection refused'))));
    return { stdin, stdout, done, stderrTail: () => (first ? '' : 'Caused by: java.net.ConnectException: Connection refused'), kill: () => (fake.killed++, exit()) };
  };
  const compiled: string[][] = [];
  const run: CommandRunner = async (argv) => {
    compiled.push([...argv]);
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  const fake = { exec: { run, spawn }, started, written, compiled, exits, stdout: outs, killed: 0 };
  return fake;
}

const helperOf = (jvm: ReturnType<typeof fakeJvm>, java = '/usr/bin/java') =>
  new CassandraHelper({ java, jmx: { host: '127.0.0.1', port: 7199 }, classpath: '/opt/cassandra/lib/*', env: { TANDEM_JMX_USER: 'u' }, exec: jvm.exec, idleMs: 0 });

test('helper JVM: compiled once, started with its argv and environment, one line per call', async () => {
  const jvm = fakeJvm((w) => (w[0] === 'SNAPSHOT' ? 'OK 100 105' : w[0] === 'VERSION' ? 'OK 5.0.8' : 'OK'));
  const h = helperOf(jvm);
  assert.is(await h.version(), '5.0.8');
  assert.equal(await h.snapshot('tandem-x', ['thehive', 'other']), { startedAt: 100, endedAt: 105 });
  await h.clearSnapshot('tandem-x', 'thehive');
  const { argv, env } = jvm.started[0];
  assert.is(jvm.started.length, 1, 'one JVM for every call');
  assert.equal(argv.slice(0, 2), ['/usr/bin/java', '-Xmx512m']);
  assert.equal(argv.slice(-3), ['CassandraHelper', '127.0.0.1', '7199']);
  assert.match(argv[argv.indexOf('-cp') + 1], /tandem-java-.*\/helper:.*\/counter:\/opt\/cassandra\/lib\/\*$/);
  assert.equal(env, { TANDEM_JMX_USER: 'u' });
  assert.equal(jvm.written, ['1 VERSION', '2 SNAPSHOT tandem-x thehive,other', '3 CLEAR tandem-x thehive']);
  assert.ok(jvm.compiled.every((c) => c.includes('jdk.compiler/com.sun.tools.javac.Main')), 'compiled by the JDK\'s own compiler module');
  h.close();
});

test('helper JVM: a SNAPSHOT\'s STARTED line is told before its reply', async () => {
  const jvm = fakeJvm((w) => (w[0] === 'SNAPSHOT' ? { later: 'OK 100 130' } : 'OK'));
  const h = helperOf(jvm);
  await h.ping();
  const events: string[] = [];
  const snap = h.snapshot('tandem-x', [], () => events.push('started')).then((t) => (events.push('returned'), t));
  // The fake JVM answers through a timer: the STARTED line is written by the test itself, as the JVM would at once.
  await new Promise((r) => setImmediate(r));
  assert.is(jvm.written.at(-1), '2 SNAPSHOT tandem-x -');
  jvm.stdout.at(-1)!.write('2 STARTED\n');
  await new Promise((r) => setImmediate(r));
  assert.equal(events, ['started']);
  assert.equal(await snap, { startedAt: 100, endedAt: 130 });
  assert.equal(events, ['started', 'returned']);
  h.close();
});

test('helper JVM: replies are matched by id, whatever their order', async () => {
  const id = '5c01f119-d843-4e8f-ba4e-bac7ac37d4ea';
  const jvm = fakeJvm((w) => (w[0] === 'FLUSH' ? { later: 'OK 7 9' } : `OK ${id}=127.0.0.1`));
  const h = helperOf(jvm, '/opt/java-a/bin/java');
  const order: string[] = [];
  const a = h.flush('thehive').then((r) => (order.push('flush'), r));
  const b = h.schemaVersions().then((r) => (order.push('schema'), r));
  assert.equal(await Promise.all([a, b]), [{ startedAt: 7, endedAt: 9 }, { [id]: ['127.0.0.1'] }]);
  assert.equal(order, ['schema', 'flush']);
  h.close();
});

test('helper JVM: an ERR reply is an error with Cassandra\'s message; a word with whitespace is refused unsent', async () => {
  const jvm = fakeJvm((w) => (w[0] === 'IMPORT' ? 'ERR IllegalStateException: Cassandra could not import /x' : 'OK'));
  const h = helperOf(jvm, '/opt/java-b/bin/java');
  const err = await h.importTable('thehive', 'edgestore', '/x').catch((e: Error) => e);
  assert.instance(err, TandemError);
  assert.match((err as Error).message, /JMX at 127\.0\.0\.1:7199 .*could not import \/x/);
  const bad = await h.importTable('thehive', 'edgestore', '/a b').catch((e: Error) => e);
  assert.instance(bad, ValidationError);
  assert.equal(jvm.written, ['1 IMPORT thehive edgestore /x']);
  h.close();
});

test('helper JVM: one that exits fails the calls in flight, and the next call starts another', async () => {
  const jvm = fakeJvm((w) => (w[0] === 'PING' ? 'OK' : null));
  const h = helperOf(jvm, '/opt/java-c/bin/java');
  await h.ping();
  const inFlight = h.ring().catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 10));
  jvm.exits[0](new CommandError(['java'], 137, null, ''));
  assert.match(((await inFlight) as Error).message, /helper .* exited/);
  await h.ping();
  assert.is(jvm.started.length, 2);
  h.close();
});

test('helper JVM: it idles out after its idle time, never while a call is in flight', async () => {
  const jvm = fakeJvm((w) => (w[0] === 'FLUSH' ? { later: 'OK 1 2' } : 'OK'));
  const h = new CassandraHelper({ java: '/opt/java-e/bin/java', jmx: { host: '127.0.0.1', port: 7199 }, classpath: '/opt/cassandra/lib/*', env: {}, exec: jvm.exec, idleMs: 10 });
  const flush = h.flush('thehive');
  await h.ping();
  // The ping has ended and 10 ms pass while the flush (30 ms) is still running: the JVM stays.
  assert.equal(await flush, { startedAt: 1, endedAt: 2 });
  assert.is(jvm.killed, 0, 'not stopped during the flush');
  await new Promise((r) => setTimeout(r, 60));
  assert.is(jvm.killed, 1, 'stopped once idle');
  await h.ping();
  assert.is(jvm.started.length, 2, 'the next call starts it again');
  h.close();
});

test('helper JVM: one that cannot connect is a CommandError naming the deepest cause', async () => {
  const jvm = fakeJvm(() => null, '');
  const err = await helperOf(jvm, '/opt/java-d/bin/java').ping().catch((e: Error) => e);
  assert.instance(err, CommandError);
  assert.is((err as CommandError).exitCode, 3);
  assert.match((err as Error).message, /JMX at 127\.0\.0\.1:7199 .*Caused by: java\.net\.ConnectException/);
});

test('helper replies: ring, schema versions and snapshot lists are parsed, anything else refused', () => {
  const id = '5c01f119-d843-4e8f-ba4e-bac7ac37d4ea';
  assert.equal(parseRing(`UN,127.0.0.1,datacenter1,${id} DN,::1,dc%2Bwest+2,-`), [
    { state: 'UN', address: '127.0.0.1', datacenter: 'datacenter1', hostId: id },
    { state: 'DN', address: '::1', datacenter: 'dc+west 2', hostId: '-' },
  ]);
  assert.throws(() => parseRing('UN,127.0.0.1;rm,dc,x'), /unexpected ring entry/);
  assert.equal(parseSchemaReply(`${id}=127.0.0.1|127.0.0.2 UNREACHABLE=127.0.0.3`), { [id]: ['127.0.0.1', '127.0.0.2'], UNREACHABLE: ['127.0.0.3'] });
  assert.throws(() => parseSchemaReply('nope'), /unexpected schema entry/);
  assert.equal(parseSnapshotList('tandem-x,thehive dropped-1-t,thehive'), [{ tag: 'tandem-x', keyspace: 'thehive' }, { tag: 'dropped-1-t', keyspace: 'thehive' }]);
  assert.equal(parseSnapshotList(''), []);
});

test.run();
