/** Unit tests of LocalDestination against a temporary folder, and of the rsync argv (no ssh needed). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { NotFoundError, PreconditionError, ValidationError } from '../../shared/errors';
import { LocalDestination, RsyncDestination, openDestination, parseDestinationConfig, rsyncOptions } from '../../shared/destination';
import type { RsyncDestinationConfig } from '../../shared/destination';
import type { CommandRunner } from '../../shared/exec';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const root = scratchDirSync('dest-unit');
const dest = openDestination(parseDestinationConfig({ type: 'local', path: root })) as LocalDestination;

/** Reads a stream to a Buffer. */
async function slurp(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir`, hidden ones included, relative. */
function allFiles(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(dir, rel ? `${rel}/${e.name}` : e.name) : [rel ? `${rel}/${e.name}` : e.name],
  );
}

test.after(() => removeScratch(root));

test('put a file and a stream, stat, get, list', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const src = join(root, '..', `tandem-src-${process.pid}`);
  writeFileSync(src, data);
  try {
    assert.equal(await dest.put('b1/node1/ks/t1.tbz', src, { size: data.length }), { size: data.length });
  } finally {
    rmSync(src);
  }
  assert.equal(await dest.put('b1/node2/ks/t2.tbz', Readable.from([data.subarray(0, 10), data.subarray(10, 100)])), { size: 100 });
  assert.equal(await dest.stat('b1/node1/ks/t1.tbz'), { size: data.length });
  assert.is(await dest.stat('b1/node1/ks/none.tbz'), null);
  assert.is(await dest.stat('b1/node1'), null, 'a folder is not a file');
  assert.ok((await slurp(await dest.get('b1/node1/ks/t1.tbz'))).equals(data));
  assert.equal(await dest.list('b1'), [
    { path: 'b1/node1/ks/t1.tbz', size: data.length },
    { path: 'b1/node2/ks/t2.tbz', size: 100 },
  ]);
  assert.equal(await dest.list('b1/node2/'), [{ path: 'b1/node2/ks/t2.tbz', size: 100 }]);
  assert.is((await dest.list('')).length, 2);
  assert.equal(await dest.list('nothing-here'), []);
});

test('get of a missing file is NotFoundError; unsafe paths are refused', async () => {
  try {
    await dest.get('b1/missing.tbz');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, NotFoundError);
  }
  for (const bad of ['../escape', '/etc/passwd', 'a//b', 'b1/.x']) {
    try {
      await dest.put(bad, Readable.from([Buffer.from('x')]));
      assert.unreachable(bad);
    } catch (e) {
      assert.instance(e, ValidationError, bad);
    }
  }
});

test('a partial file is never visible, and an aborted put leaves nothing', async () => {
  const input = new PassThrough();
  const ac = new AbortController();
  const putting = dest.put('b2/node1/ks/big.tbz', input, { signal: ac.signal });
  input.write(randomBytes(1024 * 1024));
  // Waits for the temporary to appear (a loaded machine opens it late), with a deadline.
  const tmpSeen = () => allFiles(root).some((f) => f.startsWith('b2/node1/ks/.big.tbz.'));
  for (const until = Date.now() + 10_000; !tmpSeen() && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
  assert.ok(tmpSeen(), 'the temporary file exists meanwhile');
  assert.equal(await dest.list('b2'), [], 'but list() does not show it');
  assert.is(await dest.stat('b2/node1/ks/big.tbz'), null);
  ac.abort();
  await putting.then(() => assert.unreachable('put should fail'), () => undefined);
  assert.equal(allFiles(join(root, 'b2')), [], 'no temporary file left');
});

test('a size mismatch fails and leaves nothing', async () => {
  await dest.put('b3/x.tbz', Readable.from([Buffer.from('abc')]), { size: 4 }).then(
    () => assert.unreachable(),
    (e) => assert.instance(e, ValidationError),
  );
  assert.equal(allFiles(join(root, 'b3')), []);
});

test('writeAtomic replaces the whole content', async () => {
  await dest.writeAtomic('b1/manifest.json', '{"v":1}');
  await dest.writeAtomic('b1/manifest.json', Buffer.from('{"v":2}'));
  assert.is((await slurp(await dest.get('b1/manifest.json'))).toString(), '{"v":2}');
  assert.not.ok(allFiles(join(root, 'b1')).some((f) => f.includes('.partial')));
});

test('folders lists the folders of one level, hidden ones left out; newestChange is the newest file mtime', async () => {
  await dest.writeAtomic('f1/n1/a.txt', 'a');
  await dest.writeAtomic('f1/n2/b.txt', 'b');
  await dest.writeAtomic('f2/top.txt', 'c');
  writeFileSync(join(root, 'f1', '.hidden-file'), '');
  assert.ok((await dest.folders('')).includes('f1'));
  assert.equal(await dest.folders('f1'), ['n1', 'n2']);
  assert.equal(await dest.folders('f2'), []);
  assert.equal(await dest.folders('absent'), []);
  const { utimesSync } = await import('node:fs');
  utimesSync(join(root, 'f1', 'n1', 'a.txt'), new Date(1_000_000), new Date(1_000_000));
  utimesSync(join(root, 'f1', 'n2', 'b.txt'), new Date(2_000_000), new Date(2_000_000));
  utimesSync(join(root, 'f1', '.hidden-file'), new Date(500_000), new Date(500_000));
  assert.is(await dest.newestChange('f1'), 2_000_000);
  assert.is(await dest.newestChange('absent'), null);
  await dest.remove('f1');
  await dest.remove('f2');
});

test('remove is recursive and idempotent, and refuses the root', async () => {
  await dest.put('keep/x.tbz', Readable.from([Buffer.from('x')]));
  await dest.remove('b1');
  await dest.remove('b1');
  assert.equal(await dest.list('b1'), []);
  assert.is((await dest.list('')).length, 1);
  await dest.remove('b2/');
  await dest.remove('b1/none/deeper');
  await dest.remove('').then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
});

test('remove takes a whole set folder, one file, and links without following them', async () => {
  // A set folder as a prune finds it: nested node folders, hidden partial uploads, many files in one folder.
  await dest.put('b3/node1/cassandra/ks/t1.tbz', Readable.from([Buffer.from('a')]));
  for (let i = 0; i < 300; i++) await dest.put(`b3/node2/files/data/${i}.bin`, Readable.from([Buffer.from(String(i))]));
  writeFileSync(join(root, 'b3', 'node1', '.t2.tbz.abc.partial'), 'half');
  // A link inside the set pointing outside it: the link goes, what it points to stays.
  const outside = scratchDirSync('dest-outside');
  try {
    writeFileSync(join(outside, 'precious'), 'p');
    symlinkSync(outside, join(root, 'b3', 'node1', 'linked-folder'));
    symlinkSync(join(outside, 'precious'), join(root, 'b3', 'node2', 'linked-file'));
    await dest.remove('b3/node1/cassandra/ks/t1.tbz');
    assert.is(await dest.stat('b3/node1/cassandra/ks/t1.tbz'), null);
    assert.ok(existsSync(join(root, 'b3', 'node1', 'cassandra', 'ks')), 'removing one file leaves its folder');
    await dest.remove('b3');
    assert.not.ok(existsSync(join(root, 'b3')));
    assert.equal(readdirSync(outside), ['precious']);
  } finally {
    removeScratch(outside);
  }
});

test('checkWritable passes, and says what to fix when the folder is missing', async () => {
  await dest.checkWritable();
  assert.equal(readdirSync(root).filter((f) => f.startsWith('.tandem-probe')), []);
  const missing = new LocalDestination({ type: 'local', path: join(root, 'not-mounted') });
  await missing.checkWritable().then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof PreconditionError && /does not exist: create it \(or mount/.test(e.message), String(e)),
  );
  assert.match(dest.describe(), `local:${root}`);
});

const rsyncConfig = parseDestinationConfig({
  type: 'rsync', host: 'backup.example.com', user: 'tandem', port: 2200, path: '/srv/backups',
  identityFile: '/etc/tandem/id', knownHostsFile: '/etc/tandem/known_hosts', bwlimitKBps: 5000,
}) as RsyncDestinationConfig;

test('rsync argv: the -e value is one element and every ssh word is space-free', () => {
  const argv = rsyncOptions(rsyncConfig);
  const e = argv[argv.indexOf('-e') + 1];
  assert.ok(argv.includes('--partial-dir=.rsync-partial') && argv.includes('--bwlimit=5000') && argv.includes('--timeout=300'));
  assert.match(e, /^ssh -p 2200 -o BatchMode=yes -o StrictHostKeyChecking=yes /);
  assert.match(e, / -i \/etc\/tandem\/id /);
  assert.match(e, / -o UserKnownHostsFile=\/etc\/tandem\/known_hosts$/);
});

test('rsync: a local file\'s transient failures are retried, remote commands are quoted, list hides partials', async () => {
  const calls: string[][] = [];
  let failures = 1;
  const runner: CommandRunner = async (argv) => {
    calls.push([...argv]);
    const { CommandError } = await import('../../shared/errors');
    if (argv[0] === 'rsync' && failures-- > 0) throw new CommandError(argv, 30, null, 'rsync: timeout');
    const remote = argv[argv.length - 1];
    const stdout = / find '[^']*' -type f -printf /.test(remote) ? 'ks/t.tbz\t12\nks/.rsync-partial/t2.tbz\t5\nks/.t3.tbz.Ab12\t3\n' : '';
    return { stdout, stderr: '', exitCode: 0 };
  };
  const d = new RsyncDestination(rsyncConfig, { runner, retryDelayMs: 1 });
  const work = scratchDirSync('rsync-unit');
  const local = join(work, 't.tbz');
  writeFileSync(local, 'hello');
  await d.put('b1/n1/ks/t.tbz', local);
  removeScratch(work);
  const rsyncs = calls.filter((c) => c[0] === 'rsync');
  assert.is(rsyncs.length, 2, 'one retry after the timeout');
  assert.is(rsyncs[1].at(-1), 'tandem@backup.example.com:/srv/backups/b1/n1/ks/t.tbz');
  assert.equal(calls[0].slice(-3, -1), ['--', 'tandem@backup.example.com']);
  // Each name below the root is checked for a link before mkdir runs through it.
  assert.match(calls[0].at(-1)!, /^for p in '\/srv\/backups\/b1' '\/srv\/backups\/b1\/n1' '\/srv\/backups\/b1\/n1\/ks' ; do if test -L "\$p" ; then .* exit 76 ; fi ; done ; mkdir -p -- '\/srv\/backups\/b1\/n1\/ks'$/);
  assert.equal(await d.list('b1/n1'), [{ path: 'b1/n1/ks/t.tbz', size: 12 }]);
  assert.match(calls.at(-1)!.at(-1)!, /find '\/srv\/backups\/b1\/n1' -type f -printf '%P\\t%s\\n'/);
  await d.remove('b1');
  assert.is(calls.at(-1)!.at(-1), "rm -rf -- '/srv/backups/b1'");
});

test.run();
