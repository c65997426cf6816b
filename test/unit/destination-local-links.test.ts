/**
 * The local/NFS destination is storage others can write: links planted in it are refused by
 * every operation, named by their path, and nothing outside the destination is read, written or
 * removed through one. Also: readSmall's cap, and readCapped on a stream (what rsync and S3 use).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NotFoundError, ValidationError } from '../../shared/errors';
import { LinkRefusedError } from '../../shared/nofollow';
import { LocalDestination, openDestination, parseDestinationConfig, readCapped } from '../../shared/destination';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const root = scratchDirSync('dest-links');
const outside = scratchDirSync('dest-links-outside');
const dest = openDestination(parseDestinationConfig({ type: 'local', path: root })) as LocalDestination;
const SECRET = 'root-only 0123456789abcdef';

test.after(() => {
  removeScratch(root);
  removeScratch(outside);
});

/** Expects a LinkRefusedError naming `rel`; the message must tell nothing of the file behind the link. */
async function refused(p: Promise<unknown>, rel: string): Promise<void> {
  await p.then(
    () => assert.unreachable(`${rel}: not refused`),
    (e) => {
      assert.instance(e, LinkRefusedError, String(e));
      const m = (e as Error).message;
      assert.ok(m.includes(`${rel} is a symbolic link`) && m.startsWith(`local:${root}`), m);
      assert.not.ok(m.includes(outside) || m.includes(String(SECRET.length)) || /sha256|[0-9a-f]{64}/.test(m), m);
    },
  );
}

const untouched = () => {
  assert.equal(readdirSync(outside).sort(), ['data', 'secret']);
  assert.is(readFileSync(join(outside, 'secret'), 'utf8'), SECRET);
  assert.equal(readdirSync(join(outside, 'data')), ['precious']);
};

test.before(() => {
  writeFileSync(join(outside, 'secret'), SECRET);
  mkdirSync(join(outside, 'data'));
  writeFileSync(join(outside, 'data', 'precious'), 'p');
});

test('a set folder that is a link: put, get, readSmall, stat, list refuse it; remove unlinks it only', async () => {
  // The Abort case of the issue: <id>/<victim-node> made a link to the victim's data folder.
  await dest.writeAtomic('b1/node1/part.json', '{}');
  symlinkSync(join(outside, 'data'), join(root, 'b1', 'victim'));
  await refused(dest.put('b1/victim/cassandra/x.tbz', Readable.from([Buffer.from('x')])), 'b1/victim');
  await refused(dest.get('b1/victim/precious'), 'b1/victim');
  await refused(dest.readSmall('b1/victim/precious', 100), 'b1/victim');
  await refused(dest.stat('b1/victim/precious'), 'b1/victim');
  await refused(dest.list('b1'), 'b1/victim');
  await refused(dest.list('b1/victim'), 'b1/victim');
  await refused(dest.remove('b1/victim/precious'), 'b1/victim');
  assert.equal(await dest.folders('b1'), ['node1'], 'a link is no folder of the set');
  untouched();
  await dest.remove('b1/victim');
  assert.not.ok(existsSync(join(root, 'b1', 'victim')));
  await dest.remove('b1');
  untouched();
});

test('a set id that is a link at the root: remove unlinks it, nothing below it is touched', async () => {
  symlinkSync(join(outside, 'data'), join(root, 'b2'));
  assert.not.ok((await dest.folders('')).includes('b2'));
  await refused(dest.list('b2'), 'b2');
  await refused(dest.newestChange('b2'), 'b2');
  await dest.remove('b2');
  assert.not.ok(existsSync(join(root, 'b2')));
  untouched();
});

test('a manifest that is a link to a root-only file: refused, neither its size nor its digest told', async () => {
  mkdirSync(join(root, 'b3'));
  symlinkSync(join(outside, 'secret'), join(root, 'b3', 'manifest.json'));
  await refused(dest.get('b3/manifest.json'), 'b3/manifest.json');
  await refused(dest.readSmall('b3/manifest.json', 1 << 20), 'b3/manifest.json');
  await refused(dest.stat('b3/manifest.json'), 'b3/manifest.json');
  await refused(dest.list('b3'), 'b3/manifest.json');
  // Writing the manifest replaces the link; the file it pointed to keeps its content.
  await dest.writeAtomic('b3/manifest.json', '{"v":1}');
  assert.is((await dest.readSmall('b3/manifest.json', 100)).toString(), '{"v":1}');
  await dest.remove('b3');
  untouched();
});

test('remove of a set holding links at every depth removes the links, never their targets', async () => {
  await dest.writeAtomic('b4/node1/files/data/aa/bb/f1', 'f');
  symlinkSync(join(outside, 'data'), join(root, 'b4', 'node2'));
  symlinkSync(join(outside, 'data'), join(root, 'b4', 'node1', 'files', 'data', 'cc'));
  symlinkSync(join(outside, 'secret'), join(root, 'b4', 'node1', 'files', 'data', 'aa', 'bb', 'f2'));
  await dest.remove('b4');
  assert.not.ok(existsSync(join(root, 'b4')));
  untouched();
});

test('readSmall: whole under the cap, refused past it without the size, NotFoundError when absent', async () => {
  await dest.writeAtomic('b5/manifest.json', 'x'.repeat(5000));
  assert.is((await dest.readSmall('b5/manifest.json', 5000)).length, 5000);
  await dest.readSmall('b5/manifest.json', 4999).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof ValidationError && /larger than the 4999 bytes allowed/.test(e.message) && !e.message.includes('5000'), String(e)),
  );
  await dest.readSmall('b5/absent.json', 10).then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
  await dest.readSmall('b5', 10).then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
  await dest.readSmall('b5/manifest.json', -1).then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
  await dest.remove('b5');
});

test('readCapped stops one chunk past the cap and destroys the stream', async () => {
  let produced = 0;
  const endless = new Readable({
    read() {
      produced += 65536;
      this.push(Buffer.alloc(65536));
    },
  });
  await readCapped(endless, 100_000, 'x/manifest.json', 'rsync://h/p').then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof ValidationError && /rsync:\/\/h\/p: x\/manifest.json is larger than the 100000 bytes/.test(e.message), String(e)),
  );
  assert.ok(endless.destroyed);
  assert.ok(produced < 1 << 20, `read ${produced} bytes for a 100 kB cap`);
  assert.is((await readCapped(Readable.from([Buffer.from('ab'), Buffer.from('c')]), 3, 'y', 'w')).toString(), 'abc');
});

test.run();
