/** Unit tests of shared/nofollow against real folders and real symbolic links at every level. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '../../shared/errors';
import { LinkRefusedError, NoFollowRoot, segmentsOf } from '../../shared/nofollow';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const base = scratchDirSync('nofollow');
const root = join(base, 'root');
const outside = join(base, 'outside');
const tree = new NoFollowRoot(root, 'local:test');
const SECRET = 'root-only secret content 0123456789';

/** A fresh root holding a/b/c.txt, and an outside folder holding secret.txt and sub/. */
function reset(): void {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  writeFileSync(join(root, 'a', 'b', 'c.txt'), 'hello');
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(outside, 'sub', 'keep.txt'), 'keep');
}

/** Asserts `p` rejects with LinkRefusedError naming `rel` and telling nothing of the target. */
async function refusesLink(p: Promise<unknown>, rel: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, LinkRefusedError, String(e));
    const msg = (e as Error).message;
    assert.ok(msg.includes(`${rel} is a symbolic link`), msg);
    assert.not.ok(msg.includes(outside) || msg.includes(String(SECRET.length)) || msg.includes('secret'), `reveals the target: ${msg}`);
    assert.equal((e as LinkRefusedError).fields.path, rel);
    return;
  }
  assert.unreachable(`no refusal for ${rel}`);
}

const outsideUntouched = () => {
  assert.equal(readdirSync(outside).sort(), ['secret.txt', 'sub']);
  assert.is(readFileSync(join(outside, 'secret.txt'), 'utf8'), SECRET);
  assert.equal(readdirSync(join(outside, 'sub')), ['keep.txt']);
};

test.before.each(reset);
test.after(() => removeScratch(base));

test('segments: .., absolute, empty and dot names are refused', () => {
  assert.equal(segmentsOf(''), []);
  assert.equal(segmentsOf('a/b'), ['a', 'b']);
  for (const bad of ['/etc/passwd', '../x', 'a/../b', 'a//b', 'a/', './a', 'a/.', 'a\0b']) assert.throws(() => segmentsOf(bad), (e: unknown) => e instanceof ValidationError, bad);
});

test('plain files and folders: read, bounded read, stat, create, mkdirp, remove', async () => {
  assert.is((await tree.readSmall('a/b/c.txt', 5)).toString(), 'hello');
  await tree.readSmall('a/b/c.txt', 4).then(() => assert.unreachable(), (e) => assert.ok(e instanceof ValidationError && /larger than the 4 bytes/.test(e.message) && !/\b5\b/.test(e.message), String(e)));
  const st = await tree.stat('a/b/c.txt');
  assert.is(st?.kind, 'file');
  assert.is(st?.size, 5);
  assert.is((await tree.stat('a'))?.kind, 'folder');
  assert.is(await tree.stat('a/none'), null);
  assert.is(await tree.stat('a/b/c.txt/deeper'), null, 'a file where a folder is expected is absent, not an error');
  await tree.openRead('a/none').then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
  await tree.openRead('a/b').then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
  await tree.writeFile('x/y/z.txt', 'new');
  assert.is(readFileSync(join(root, 'x', 'y', 'z.txt'), 'utf8'), 'new');
  assert.equal(readdirSync(join(root, 'x', 'y')), ['z.txt'], 'no temporary file left');
  await tree.writeFile('x/y/z.txt', 'replaced');
  assert.is(readFileSync(join(root, 'x', 'y', 'z.txt'), 'utf8'), 'replaced');
  (await tree.mkdirp('m/n/o', 0o700)).close();
  assert.ok(lstatSync(join(root, 'm', 'n', 'o')).isDirectory());
  await tree.remove('x/y/z.txt');
  await tree.remove('x/y/z.txt');
  assert.not.ok(existsSync(join(root, 'x', 'y', 'z.txt')));
  await tree.remove('x').then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
  await tree.removeTree('a');
  assert.not.ok(existsSync(join(root, 'a')));
  await tree.removeTree('a');
  await tree.removeTree('').then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
});

test('a discarded file leaves nothing; a fixed temporary name replaces old debris and a link there', async () => {
  const f = await tree.create('a/new.bin');
  await f.handle.write('part');
  await f.discard();
  assert.equal(readdirSync(join(root, 'a')), ['b']);
  symlinkSync(join(outside, 'secret.txt'), join(root, 'a', '.new.bin.partial'));
  const g = await tree.create('a/new.bin', { tempName: '.new.bin.partial' });
  await g.handle.write('data');
  await g.commit();
  assert.is(readFileSync(join(root, 'a', 'new.bin'), 'utf8'), 'data');
  outsideUntouched();
});

test('a link at the top of the path is refused by every operation, and removeTree unlinks it only', async () => {
  symlinkSync(outside, join(root, 'top'));
  await refusesLink(tree.openRead('top/secret.txt'), 'top');
  await refusesLink(tree.readSmall('top/secret.txt', 1000), 'top');
  await refusesLink(tree.stat('top/secret.txt'), 'top');
  await refusesLink(tree.stat('top'), 'top');
  await refusesLink(tree.writeFile('top/planted.txt', 'x'), 'top');
  await refusesLink(tree.mkdirp('top/sub/deeper'), 'top');
  await refusesLink(tree.remove('top/secret.txt'), 'top');
  await refusesLink(tree.removeTree('top/sub'), 'top');
  await refusesLink(tree.openDir('top'), 'top');
  outsideUntouched();
  await tree.removeTree('top');
  assert.not.ok(existsSync(join(root, 'top')));
  outsideUntouched();
});

test('a link in the middle of the path is refused, named by its own path', async () => {
  symlinkSync(outside, join(root, 'a', 'mid'));
  await refusesLink(tree.openRead('a/mid/secret.txt'), 'a/mid');
  await refusesLink(tree.writeFile('a/mid/sub/planted.txt', 'x'), 'a/mid');
  await refusesLink(tree.removeTree('a/mid/sub'), 'a/mid');
  await refusesLink(tree.stat('a/mid/secret.txt'), 'a/mid');
  outsideUntouched();
});

test('a link as the last name: never read, never written through, removed without following', async () => {
  symlinkSync(join(outside, 'secret.txt'), join(root, 'a', 'b', 'leaf.txt'));
  await refusesLink(tree.openRead('a/b/leaf.txt'), 'a/b/leaf.txt');
  await refusesLink(tree.readSmall('a/b/leaf.txt', 10), 'a/b/leaf.txt');
  await refusesLink(tree.stat('a/b/leaf.txt'), 'a/b/leaf.txt');
  await refusesLink(tree.openExisting('a/b/leaf.txt'), 'a/b/leaf.txt');
  // Writing the name replaces the link (rename over it), the file it pointed to keeps its content.
  await tree.writeFile('a/b/leaf.txt', 'mine');
  assert.ok(lstatSync(join(root, 'a', 'b', 'leaf.txt')).isFile());
  outsideUntouched();
  symlinkSync(join(outside, 'sub'), join(root, 'a', 'b', 'dirlink'));
  await tree.remove('a/b/dirlink');
  assert.not.ok(existsSync(join(root, 'a', 'b', 'dirlink')));
  outsideUntouched();
});

test('removeTree never descends a link at any depth', async () => {
  mkdirSync(join(root, 'set', 'node1', 'files'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(root, 'set', 'node1', 'files', `${i}.bin`), String(i));
  symlinkSync(outside, join(root, 'set', 'node2'));
  symlinkSync(join(outside, 'sub'), join(root, 'set', 'node1', 'files', 'deep-link'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'set', 'node1', 'file-link'));
  await tree.removeTree('set');
  assert.not.ok(existsSync(join(root, 'set')));
  outsideUntouched();
});

test('a folder swapped for a link after it was opened: the work stays in the folder opened', async () => {
  // Open the folder, then swap it for a link to the outside, as someone racing the check would.
  const dir = await tree.openDir('a/b');
  try {
    renameSync(join(root, 'a', 'b'), join(root, 'a', 'b-moved'));
    symlinkSync(outside, join(root, 'a', 'b'));
    // Names resolved inside the opened handle land in the real folder, not the link's target.
    writeFileSync(`/proc/self/fd/${dir.fd}/via-handle.txt`, 'x');
    assert.ok(existsSync(join(root, 'a', 'b-moved', 'via-handle.txt')));
  } finally {
    await dir.close();
  }
  // And every path walked afresh now meets the link and refuses it.
  await refusesLink(tree.writeFile('a/b/c.txt', 'overwrite'), 'a/b');
  await refusesLink(tree.readSmall('a/b/c.txt', 100), 'a/b');
  outsideUntouched();
});

test('a file swapped for a link between a create and its commit: the rename replaces the link, nothing outside is written', async () => {
  const f = await tree.create('a/b/c.txt');
  await f.handle.write('fresh');
  rmSync(join(root, 'a', 'b', 'c.txt'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'a', 'b', 'c.txt'));
  await f.commit();
  assert.is(readFileSync(join(root, 'a', 'b', 'c.txt'), 'utf8'), 'fresh');
  assert.ok(lstatSync(join(root, 'a', 'b', 'c.txt')).isFile());
  outsideUntouched();
});

test('walk visits in name order, hands links over without entering them', async () => {
  writeFileSync(join(root, 'a', 'z.txt'), 'z');
  symlinkSync(outside, join(root, 'a', 'link'));
  const seen: string[] = [];
  await tree.walk('a', ({ path, dirent }) => void seen.push(`${path}${dirent.isSymbolicLink() ? '@' : dirent.isDirectory() ? '/' : ''}`));
  assert.equal(seen, ['a/b/', 'a/b/c.txt', 'a/link@', 'a/z.txt']);
  await refusesLink(tree.walk('a/link', () => undefined), 'a/link');
});

test('a FIFO is refused as not a regular file, without hanging', async () => {
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [join(root, 'a', 'pipe')]);
  await tree.readSmall('a/pipe', 10).then(() => assert.unreachable(), (e) => assert.ok(e instanceof ValidationError && /not a regular file/.test(e.message), String(e)));
});

test.run();
