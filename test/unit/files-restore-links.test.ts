/**
 * A files restore runs as root in a folder TheHive's user owns and can change during the load:
 * folders swapped for links, links planted at file names. Nothing outside the target is written,
 * chmod'ed, chown'ed or touched: every create, rename and metadata change works on what it opened.
 * The destination's get() is the seam through which a swap is made in the middle of the load.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LinkRefusedError } from '../../shared/nofollow';
import type { Destination } from '../../shared/destination';
import { loadFolder, verifyFolder } from '../../agent/roles/files/restore-localfs';
import { plantFilesSet } from '../helpers/backup-set';
import { localListingOf } from '../helpers/listing';
import { removeScratch, scratchDir } from '../helpers/scratch';

/** A planted one-file set, a target, and an outside folder with a file whose mode and mtime must not change. */
async function setup(name: string) {
  const root = await scratchDir(`files-links-${name}`);
  const set = plantFilesSet(root);
  const outside = join(root, 'outside');
  mkdirSync(outside, { mode: 0o700 });
  chmodSync(outside, 0o700);
  writeFileSync(join(outside, 'cdef'), 'root-only', { mode: 0o600 });
  utimesSync(join(outside, 'cdef'), new Date(1_000_000), new Date(1_000_000));
  utimesSync(outside, new Date(1_000_000), new Date(1_000_000));
  const untouched = () => {
    assert.is(statSync(outside).mode & 0o7777, 0o700, 'outside folder mode');
    assert.is(statSync(outside).mtimeMs, 1_000_000, 'outside folder mtime');
    assert.equal(readdirSync(outside), ['cdef']);
    assert.is(readFileSync(join(outside, 'cdef'), 'utf8'), 'root-only');
    assert.is(statSync(join(outside, 'cdef')).mode & 0o7777, 0o600, 'outside file mode');
    assert.is(statSync(join(outside, 'cdef')).mtimeMs, 1_000_000, 'outside file mtime');
  };
  const t = { from: set.from, target: set.target, concurrency: 2 };
  return { root, ...set, outside, untouched, t, listing: localListingOf(set.listing) };
}

test('a folder of the target that is a link before the load: refused, nothing written outside', async () => {
  const s = await setup('before');
  mkdirSync(s.target);
  symlinkSync(s.outside, join(s.target, 'ab'));
  await loadFolder(s.ctx, s.t, s.listing, false).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof LinkRefusedError && /: ab is a symbolic link/.test(e.message) && !e.message.includes(s.outside), String(e)),
  );
  s.untouched();
  removeScratch(s.root);
});

test('a link at a listed file name (to a root-only file): replaced by the file, the file it pointed to unchanged', async () => {
  const s = await setup('leaf');
  mkdirSync(join(s.target, 'ab'), { recursive: true });
  symlinkSync(join(s.outside, 'cdef'), join(s.target, 'ab', 'cdef'));
  await loadFolder(s.ctx, s.t, s.listing, false);
  assert.ok(lstatSync(join(s.target, 'ab', 'cdef')).isFile());
  assert.is(readFileSync(join(s.target, 'ab', 'cdef'), 'utf8'), 'attachment');
  assert.is(statSync(join(s.target, 'ab', 'cdef')).mode & 0o7777, 0o640, 'the listed mode, on the restored file');
  assert.is(statSync(join(s.target, 'ab')).mode & 0o7777, 0o750, 'the listed folder mode');
  s.untouched();
  // A resumed load over a link to a file with the right content does not take the link for the file.
  writeFileSync(join(s.outside, 'same'), 'attachment', { mode: 0o600 });
  utimesSync(join(s.outside, 'same'), new Date(1_000_000), new Date(1_000_000));
  utimesSync(s.outside, new Date(1_000_000), new Date(1_000_000));
  const { rmSync } = await import('node:fs');
  rmSync(join(s.target, 'ab', 'cdef'));
  symlinkSync(join(s.outside, 'same'), join(s.target, 'ab', 'cdef'));
  const again = await loadFolder(s.ctx, s.t, s.listing, false);
  assert.match(again.detail, /\(10 bytes copied, 0 already there\)/);
  assert.is(statSync(join(s.outside, 'same')).mode & 0o7777, 0o600);
  assert.is(statSync(join(s.outside, 'same')).mtimeMs, 1_000_000);
  assert.is(statSync(s.outside).mtimeMs, 1_000_000);
  rmSync(join(s.outside, 'same'));
  removeScratch(s.root);
});

test('a folder swapped for a link during the load: the file lands in the folder opened, the final chmod/chown/utimes is refused', async () => {
  const s = await setup('swap');
  const real = s.ctx.destination;
  let swapped = false;
  // The seam: the moment the file is being fetched, the folder it goes into is swapped for a link.
  const racing: Destination = Object.create(real, {
    get: {
      value: async (rel: string): Promise<Readable> => {
        if (!swapped) {
          swapped = true;
          renameSync(join(s.target, 'ab'), join(s.target, 'ab-moved'));
          symlinkSync(s.outside, join(s.target, 'ab'));
        }
        return real.get(rel);
      },
    },
  });
  await loadFolder({ ...s.ctx, destination: racing }, s.t, s.listing, false).then(
    () => assert.unreachable(),
    (e) => assert.ok(e instanceof LinkRefusedError && /: ab is a symbolic link/.test(e.message), String(e)),
  );
  assert.ok(swapped);
  assert.is(readFileSync(join(s.target, 'ab-moved', 'cdef'), 'utf8'), 'attachment', 'written into the folder it opened');
  assert.equal(readdirSync(join(s.target, 'ab-moved')), ['cdef'], 'no temporary file left');
  s.untouched();
  removeScratch(s.root);
});

test('files_clean removes an unlisted link without following it; verify names a link on a path, nothing behind it', async () => {
  const s = await setup('clean');
  await loadFolder(s.ctx, s.t, s.listing, false);
  symlinkSync(s.outside, join(s.target, 'planted-dir'));
  symlinkSync(join(s.outside, 'cdef'), join(s.target, 'ab', 'planted-file'));
  const out = await loadFolder(s.ctx, s.t, s.listing, true);
  assert.match(out.detail, /2 not in the backup removed/);
  assert.not.ok(existsSync(join(s.target, 'planted-dir')));
  assert.not.ok(existsSync(join(s.target, 'ab', 'planted-file')));
  s.untouched();
  assert.ok((await verifyFolder(s.ctx, s.t, s.listing)).ok);
  renameSync(join(s.target, 'ab'), join(s.target, 'ab-moved'));
  symlinkSync(s.outside, join(s.target, 'ab'));
  const v = await verifyFolder(s.ctx, s.t, s.listing);
  assert.equal([v.ok, v.problems], [false, ['ab/cdef: a symbolic link is on its path']]);
  s.untouched();
  removeScratch(s.root);
});

test.run();
