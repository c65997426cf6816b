/** Hostile archives, built entry by entry with tar-stream, must be refused before anything is written. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { CommandError, ValidationError } from '../../shared/errors';
import { runCommand } from '../../shared/exec';
import { extractArchive } from '../../agent/archive';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const base = scratchDirSync('archive-safety');
test.after(() => removeScratch(base));

type Entry = { header: Partial<tar.Header> & { name: string }; body?: string | Buffer };

/** A plain tar holding the given entries, in order. */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (e.body !== undefined) pack.entry(e.header, e.body, cb);
      else pack.entry(e.header, cb);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** Writes the archive to disk (optionally bzip2-compressed with the real bzip2) and returns its path. */
let n = 0;
async function archiveFile(entries: Entry[], bzip2 = false): Promise<string> {
  const path = join(base, `evil-${++n}.tar`);
  writeFileSync(path, await tarOf(entries));
  if (!bzip2) return path;
  await runCommand(['bzip2', '-z', path]); // replaces path with path.bz2
  return `${path}.bz2`;
}

/** Layout: base/case-N/outer/target; returns [target, outer]. */
function layout(): [string, string] {
  const outer = join(base, `case-${++n}`, 'outer');
  const target = join(outer, 'target');
  mkdirSync(target, { recursive: true });
  return [target, outer];
}

async function refused(archive: string, target: string, entryName: string, extra: Partial<Parameters<typeof extractArchive>[0]> = {}) {
  const err = await extractArchive({ archive, targetDir: target, compression: 'auto', ...extra }).then(() => null, (e: unknown) => e);
  assert.instance(err, ValidationError, `expected ValidationError for ${entryName}, got ${String(err)}`);
  assert.ok((err as Error).message.includes(entryName), (err as Error).message);
  if (process.env.SHOW_REFUSALS) console.log((err as Error).message);
}

const file = (name: string, body = 'pwned\n', mode = 0o644): Entry => ({ header: { name, type: 'file', mode }, body });
const ok = file('./ok.txt', 'fine\n');

test('`../evil` is refused and nothing lands outside targetDir', async () => {
  for (const bz of [false, true]) {
    const [target, outer] = layout();
    // Trailing megabytes keep the decompressor busy: the refusal must stop it, not wait for it.
    const pad = { header: { name: './pad', type: 'file' as const }, body: randomBytes(3 << 20) };
    await refused(await archiveFile([ok, file('../evil'), pad], bz), target, '../evil');
    assert.ok(!existsSync(join(outer, 'evil')));
  }
});

test('`a/../../evil` is refused', async () => {
  const [target, outer] = layout();
  await refused(await archiveFile([file('a/../../evil')]), target, 'a/../../evil');
  assert.ok(!existsSync(join(outer, 'evil')));
  assert.ok(!existsSync(join(target, 'a')));
});

test('absolute paths are refused', async () => {
  const [target, outer] = layout();
  await refused(await archiveFile([file('/etc/evil-abs')]), target, '/etc/evil-abs');
  assert.ok(!existsSync('/etc/evil-abs'));
  const inside = join(outer, 'evil-abs2');
  await refused(await archiveFile([file(inside)]), target, inside);
  assert.ok(!existsSync(inside));
});

test('symlinks are refused (link -> /etc, then a file through it)', async () => {
  const [target] = layout();
  const a = await archiveFile([{ header: { name: 'link', type: 'symlink', linkname: '/etc' } }, file('link/evil')]);
  await refused(a, target, 'link');
  assert.ok(!existsSync(join(target, 'link')));
  assert.ok(!existsSync('/etc/evil'));
});

test('hard links are refused', async () => {
  const [target] = layout();
  await refused(await archiveFile([ok, { header: { name: './hl', type: 'link', linkname: '/etc/passwd' } }]), target, './hl');
  assert.ok(!existsSync(join(target, 'hl')));
});

test('character/block devices and fifos are refused', async () => {
  for (const type of ['character-device', 'block-device', 'fifo'] as const) {
    const [target] = layout();
    await refused(await archiveFile([{ header: { name: './dev', type, devmajor: 1, devminor: 3 } }]), target, './dev');
    assert.ok(!existsSync(join(target, 'dev')));
  }
});

test('entries over maxEntryBytes / maxTotalBytes are refused before being written', async () => {
  const [target] = layout();
  await refused(await archiveFile([file('./big', 'x'.repeat(100))]), target, './big', { maxEntryBytes: 10 });
  assert.ok(!existsSync(join(target, 'big')));
  const [t2] = layout();
  await refused(await archiveFile([file('./a', 'x'.repeat(60)), file('./b', 'x'.repeat(60))]), t2, './b', { maxTotalBytes: 100 });
  assert.ok(existsSync(join(t2, 'a')) && !existsSync(join(t2, 'b')));
});

test('a symlink planted inside targetDir is not followed', async () => {
  const [target, outer] = layout();
  mkdirSync(join(outer, 'elsewhere'));
  symlinkSync(join(outer, 'elsewhere'), join(target, 'sub'));
  await refused(await archiveFile([file('./sub/x.db')]), target, './sub/x.db');
  assert.equal(readdirSync(join(outer, 'elsewhere')), []);
});

test('existing files are not overwritten', async () => {
  const [target] = layout();
  const a = await archiveFile([ok]);
  await extractArchive({ archive: a, targetDir: target, compression: 'none' });
  await refused(a, target, './ok.txt');
});

test('setuid/setgid/sticky bits are dropped; plain modes kept', async () => {
  const [target] = layout();
  const a = await archiveFile([{ header: { name: './d/', type: 'directory', mode: 0o3777 } }, file('./d/suid', '#!/bin/sh\n', 0o4755), file('./d/ro', 'r', 0o444)]);
  const r = await extractArchive({ archive: a, targetDir: target, compression: 'auto' });
  assert.is(r.files.length, 2);
  assert.is(statSync(join(target, 'd', 'suid')).mode & 0o7777, 0o755);
  assert.is(statSync(join(target, 'd', 'ro')).mode & 0o7777, 0o444);
  assert.is(statSync(join(target, 'd')).mode & 0o7777, 0o777);
});

test('truncated or corrupt archives are rejected and leave no half-written file', async () => {
  const body = randomBytes(1 << 20);
  const full = readFileSync(await archiveFile([{ header: { name: './f.db', type: 'file' }, body }]));
  const [target] = layout();
  const cut = join(base, 'cut.tar');
  writeFileSync(cut, full.subarray(0, 600_000));
  const err = await extractArchive({ archive: cut, targetDir: target, compression: 'auto' }).catch((e: Error) => e);
  assert.instance(err, ValidationError);
  assert.ok(!existsSync(join(target, 'f.db')));
  const bz = readFileSync(await archiveFile([{ header: { name: './f.db', type: 'file' }, body }], true));
  bz[bz.length >> 1] ^= 0xff; // flip bits mid-stream: the decompressor's CRC check must fail
  const bad = join(base, 'bad.tbz');
  writeFileSync(bad, bz);
  const [t2] = layout();
  const e2 = await extractArchive({ archive: bad, targetDir: t2, compression: 'auto' }).catch((e: Error) => e);
  // bzip2's CRC error, or the tar parser choking on the garbled bytes that came out before it.
  assert.ok(e2 instanceof CommandError || e2 instanceof ValidationError, String(e2));
  assert.ok(!existsSync(join(t2, 'f.db')));
});

test.run();
