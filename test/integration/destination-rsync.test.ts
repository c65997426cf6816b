/** Integration tests of RsyncDestination against the sandbox's real sshd. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingPassThrough } from '../../agent/archive';
import { NotFoundError, PreconditionError, TransferInterruptedError, ValidationError } from '../../shared/errors';
import { spawnProcess, type ProcessSpawner } from '../../shared/exec';
import { RsyncDestination, parseDestinationConfig, openDestination, retryStreamedPut, shQuote } from '../../shared/destination';
import type { Destination, RsyncDestinationConfig } from '../../shared/destination';
import { destinationSuite, slurp } from './destination-helpers';
import { needSandbox, sandboxEnvOrNull, type SandboxEnv } from '../helpers/sandbox';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

/** The destination under test on the sandbox's sshd, and what it was built from. */
function onSshd(env: SandboxEnv) {
  const config = parseDestinationConfig({
    type: 'rsync',
    host: env.sshd.host,
    port: env.sshd.port,
    user: env.sshd.user,
    path: env.sshd.backupHostDir,
    identityFile: env.sshd.keyPath,
    knownHostsFile: env.sshd.knownHosts,
  }) as RsyncDestinationConfig;
  const dest: Destination = openDestination(config);
  return { env, config, dest };
}

const env = sandboxEnvOrNull();
const built = env ? onSshd(env) : null;
/** What a test uses; the test fails here when the sandbox is not up. */
function sshd() {
  needSandbox(built);
  return built;
}

const work = scratchDirSync('rsync-it');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** `data` in 64 KiB chunks, as an archive arrives. */
const chunksOf = (data: Buffer) => Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));

/** Every name under the set's folder on the backup host, hidden ones included, sorted. */
async function everyName(d: RsyncDestination, set: string): Promise<string[]> {
  const out = await d.ssh(['find', shQuote(`${sshd().config.path}/${set}`), '-mindepth', '1', '-printf', shQuote('%P\\n')]);
  return out.split('\n').filter(Boolean).sort();
}

/**
 * Waits until the backup host has removed the temporaries of uploads whose ssh client was killed:
 * the remote side sees end-of-file only when sshd notices the connection closed, a moment after.
 */
async function untilNoTemporaries(d: RsyncDestination, set: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await everyName(d, set)).some((n) => n.split('/').some((seg) => seg.startsWith('.')))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.unreachable(`temporaries left under ${set}: ${(await everyName(d, set)).join(', ')}`);
}

const s = suite('rsync destination');
s.after(() => removeScratch(work));
destinationSuite(s, () => sshd().dest);

s('describe names user, host, port and folder', () => {
  const { env, dest } = sshd();
  assert.is(dest.describe(), `rsync://${env.sshd.user}@${env.sshd.host}:${env.sshd.port}${env.sshd.backupHostDir}`);
});

s('an aborted stream is never listed and leaves no temporary; a file put cut short resumes from its partial copy', async () => {
  const { config, dest } = sshd();
  const data = randomBytes(8 * 1024 * 1024);
  const slow = new RsyncDestination({ ...config, bwlimitKBps: 2048 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 1500);
  await slow.put('it-resume/n1/t.tbz', Readable.from([data]), { signal: ac.signal }).then(
    () => assert.unreachable('the 4 s upload should have been aborted'),
    (e) => assert.is((e as Error).name, 'AbortError'),
  );
  assert.equal(await dest.list('it-resume'), [], 'the partial transfer is hidden');
  assert.is(await dest.stat('it-resume/n1/t.tbz'), null);
  await untilNoTemporaries(dest as RsyncDestination, 'it-resume');
  assert.equal(await dest.put('it-resume/n1/t.tbz', Readable.from([data])), { size: data.length });
  assert.equal(await dest.list('it-resume'), [{ path: 'it-resume/n1/t.tbz', size: data.length }]);
  // A local file goes with rsync: an aborted one is kept in --partial-dir and the next put completes it.
  const file = join(work, 'resume.tbz');
  writeFileSync(file, data);
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 1500);
  await slow.put('it-resume/n1/f.tbz', file, { signal: ac2.signal }).then(() => assert.unreachable(), (e) => assert.is((e as Error).name, 'AbortError'));
  assert.is(await dest.stat('it-resume/n1/f.tbz'), null);
  assert.equal(await dest.put('it-resume/n1/f.tbz', file), { size: data.length });
  assert.is(sha(await slurp(await dest.get('it-resume/n1/f.tbz'))), sha(data));
  await dest.remove('it-resume');
});

s('a streamed put lands atomically: its bytes and sha256 under the final name, nothing else beside it', async () => {
  const { dest } = sshd();
  const d = dest as RsyncDestination;
  const hasher = new HashingPassThrough();
  const source = Readable.from(chunksOf(randomBytes(3 * 1024 * 1024 + 7)));
  const [, stored] = await Promise.all([pipeline(source, hasher), d.put('it-atomic/n1/ks/t.tbz', hasher)]);
  assert.is(stored.size, 3 * 1024 * 1024 + 7);
  assert.is(sha(await slurp(await d.get('it-atomic/n1/ks/t.tbz'))), hasher.digest());
  const remoteSum = (await d.ssh(['sha256sum', '--', shQuote(`${sshd().config.path}/it-atomic/n1/ks/t.tbz`)])).split(' ')[0];
  assert.is(remoteSum, hasher.digest(), 'the backup host holds the same bytes');
  assert.equal(await everyName(d, 'it-atomic'), ['n1', 'n1/ks', 'n1/ks/t.tbz']);
  await d.remove('it-atomic');
});

s('a stream that fails midway leaves no file under its name, the earlier one intact, and no temporary', async () => {
  const { dest } = sshd();
  const d = dest as RsyncDestination;
  await d.put('it-torn/n1/t.tbz', Readable.from([Buffer.from('the earlier archive')]));
  const broken = async function* () {
    yield randomBytes(2 * 1024 * 1024);
    yield randomBytes(1024 * 1024);
    throw new Error('the compressor died');
  };
  await d.put('it-torn/n1/t.tbz', Readable.from(broken())).then(() => assert.unreachable(), (e) => assert.match((e as Error).message, /the compressor died/));
  await d.put('it-torn/n1/new.tbz', Readable.from(broken())).then(() => assert.unreachable(), (e) => assert.match((e as Error).message, /the compressor died/));
  assert.is((await slurp(await d.get('it-torn/n1/t.tbz'))).toString(), 'the earlier archive');
  assert.is(await d.stat('it-torn/n1/new.tbz'), null);
  assert.equal(await everyName(d, 'it-torn'), ['n1', 'n1/t.tbz'], 'the backup host removed both temporaries');
  await d.remove('it-torn');
});

s('a connection cut midway is TransferInterruptedError, nothing lands, and retryStreamedPut sends a fresh stream', async () => {
  const { config } = sshd();
  let cut = 1;
  // The real ssh, killed once after 1 MiB went through: what a dropped connection looks like to put().
  const spawner: ProcessSpawner = (argv, opts) => {
    const p = spawnProcess(argv, opts);
    if (cut-- > 0) {
      let seen = 0;
      const feed = new PassThrough();
      feed.on('data', (c: Buffer) => {
        seen += c.length;
        if (seen > 1024 * 1024) p.kill();
      });
      feed.pipe(p.stdin);
      p.stdin.on('error', (e) => feed.destroy(e)); // the killed ssh's stdin fails as a broken connection's does
      return { ...p, stdin: feed };
    }
    return p;
  };
  const d = new RsyncDestination(config, { spawner, retryDelayMs: 1 });
  const data = randomBytes(4 * 1024 * 1024);
  const streams: number[] = [];
  const r = await retryStreamedPut((attempt) => {
    streams.push(attempt);
    return d.put('it-cut/n1/t.tbz', Readable.from(chunksOf(data)));
  }, { baseDelayMs: 1 });
  assert.equal(streams, [1, 2], 'the first upload was cut short, a second stream was made');
  assert.is(r.size, data.length);
  assert.is(sha(await slurp(await d.get('it-cut/n1/t.tbz'))), sha(data));
  await untilNoTemporaries(d, 'it-cut');
  assert.equal(await everyName(d, 'it-cut'), ['n1', 'n1/t.tbz']);
  cut = 1;
  await d.put('it-cut/n1/u.tbz', Readable.from(chunksOf(data))).then(() => assert.unreachable(), (e) => assert.instance(e, TransferInterruptedError));
  assert.is(await d.stat('it-cut/n1/u.tbz'), null);
  await d.remove('it-cut');
});

s('a download cut midway resumes where it stopped', async () => {
  const { config, dest } = sshd();
  const data = randomBytes(6 * 1024 * 1024);
  await dest.put('it-get/n1/t.tbz', Readable.from(chunksOf(data)));
  let cuts = 0;
  const spawner: ProcessSpawner = (argv, opts) => {
    const p = spawnProcess(argv, opts);
    // The first connection is killed after its first MiB; the second reads from there.
    if (cuts++ > 0) return p;
    let seen = 0;
    const counted = new Transform({
      transform(c: Buffer, _enc, cb) {
        seen += c.length;
        if (seen > 1024 * 1024) p.kill();
        cb(null, c);
      },
    });
    return { ...p, stdout: p.stdout.pipe(counted) };
  };
  const d = new RsyncDestination(config, { spawner, retryDelayMs: 1 });
  assert.is(sha(await slurp(await d.get('it-get/n1/t.tbz'))), sha(data));
  assert.is(cuts, 2, 'one resumed connection');
  await d.get('it-get/n1/absent.tbz').then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
  await dest.remove('it-get');
});

s('a link planted on the backup host is refused by every operation that would go through it, naming it; nothing outside is read, written or removed', async () => {
  const { dest, config } = sshd();
  const outside = join(work, 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret'), 'root-only bytes');
  const set = `links-${Date.now()}`;
  mkdirSync(join(config.path, set), { recursive: true });
  // What a peer that can write the backup host does: its node folder made a link to a folder of the host.
  symlinkSync(outside, join(config.path, set, 'node2'));
  const local = join(work, 'part.json');
  writeFileSync(local, '{}');
  const refusal = new RegExp(`"${config.path}/${set}/node2" is a symbolic link on the backup host: refused`);
  const ops: [string, () => Promise<unknown>][] = [
    ['put (stream)', () => dest.put(`${set}/node2/cassandra/t.tbz`, Readable.from([Buffer.from('planted')]))],
    ['put (file, rsync)', () => dest.put(`${set}/node2/part.json`, local)],
    ['get', () => dest.get(`${set}/node2/secret`)],
    ['readSmall', () => dest.readSmall(`${set}/node2/secret`, 1024)],
    ['stat', () => dest.stat(`${set}/node2/secret`)],
    ['list', () => dest.list(`${set}/node2`)],
    ['folders', () => dest.folders(`${set}/node2`)],
    ['remove', () => dest.remove(`${set}/node2/secret`)],
    ['writeAtomic', () => dest.writeAtomic(`${set}/node2/manifest.json`, '{}')],
    ['createExclusive', () => dest.createExclusive(`${set}/node2/lock.json`, '{}')],
  ];
  for (const [what, op] of ops) {
    await op().then(
      () => assert.unreachable(`${what} went through the link`),
      (e: Error) => {
        assert.instance(e, ValidationError, `${what}: ${e.message}`);
        assert.match(e.message, refusal, what);
        assert.not.match(e.message, /root-only/, what);
      },
    );
  }
  assert.equal(readdirSync(outside), ['secret']);
  assert.is(readFileSync(join(outside, 'secret'), 'utf8'), 'root-only bytes');
  // Removing the set removes the link itself: rm takes a link given to it as a name, never what it points to.
  await dest.remove(set);
  assert.not.ok(existsSync(join(config.path, set)));
  assert.ok(existsSync(join(outside, 'secret')));
});

s('names with spaces, quotes or shell syntax are refused before any ssh', async () => {
  const calls: string[][] = [];
  const { config } = sshd();
  const d = new RsyncDestination(config, { runner: async (argv) => (calls.push([...argv]), { stdout: '', stderr: '', exitCode: 0 }), spawner: (argv) => (calls.push([...argv]), spawnProcess(['false'])) });
  for (const name of ['it/a b.tbz', "it/it's.tbz", 'it/$(touch x).tbz', 'it/`id`.tbz', 'it/a;b.tbz', 'it/"q".tbz']) {
    await d.put(name, Readable.from([Buffer.from('x')])).then(() => assert.unreachable(name), (e) => assert.instance(e, ValidationError));
    await d.get(name).then(() => assert.unreachable(name), (e) => assert.instance(e, ValidationError));
    await d.stat(name).then(() => assert.unreachable(name), (e) => assert.instance(e, ValidationError));
    await d.remove(name).then(() => assert.unreachable(name), (e) => assert.instance(e, ValidationError));
  }
  assert.equal(calls, []);
});

s('checkWritable says what to fix', async () => {
  const { config } = sshd();
  const fail = async (over: Partial<RsyncDestinationConfig>, re: RegExp) => {
    const d = new RsyncDestination({ ...config, ...over }, { attempts: 1 });
    await d.checkWritable().then(
      () => assert.unreachable(),
      (e) => assert.ok(e instanceof PreconditionError && re.test(e.message), String(e)),
    );
  };
  await fail({ path: `${config.path}/does-not-exist` }, /does not exist .*create it/);
  await fail({ knownHostsFile: '/dev/null' }, /host key is unknown/);
  await fail({ port: 1 }, /not reachable/);
});

s.run();
