/** Round trips of agent/archive against real files, real bzip2 programs and GNU tar (no mocks). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ValidationError } from '../../shared/errors';
import { runCommand } from '../../shared/exec';
import { createArchive, extractArchive, hasProgram, sha256File, type Bzip2Program } from '../../agent/archive';
import { COMPRESSIONS } from '../../shared/contract';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const base = scratchDirSync('archive');
const src = join(base, 'snapshot');
const LONG = 'd'.repeat(120); // forces a ustar prefix / pax path

/** A folder shaped like a table snapshot: nested dirs, an empty file, a 5 MB random file, odd modes. */
function makeSource(): void {
  mkdirSync(join(src, 'sub', LONG), { recursive: true });
  mkdirSync(join(src, 'emptydir'));
  writeFileSync(join(src, 'nb-1-big-Data.db'), randomBytes(5 * 1024 * 1024));
  writeFileSync(join(src, 'nb-1-big-Index.db'), Buffer.alloc(300_000, 'partition-key;'));
  writeFileSync(join(src, 'empty.txt'), '');
  writeFileSync(join(src, 'sub', 'manifest.json'), '{"files":["nb-1-big-Data.db"]}\n');
  writeFileSync(join(src, 'sub', LONG, 'deep-file-with-a-long-name.db'), randomBytes(70_000));
  chmodSync(join(src, 'sub', 'manifest.json'), 0o600);
  utimesSync(join(src, 'nb-1-big-Data.db'), new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
  utimesSync(join(src, 'sub'), new Date('2023-01-02T03:04:05Z'), new Date('2023-01-02T03:04:05Z'));
}
makeSource();

/** Sorted "type path mode size mtime sha" lines of a tree (the root itself excluded). */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir)) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      const mtime = Math.floor(st.mtimeMs / 1000);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`d ${r} ${mode} ${mtime}`);
        walk(abs, r);
      } else {
        const sha = createHash('sha256').update(readFileSync(abs)).digest('hex');
        out.push(`${st.isFile() ? 'f' : '?'} ${r} ${mode} ${st.size} ${mtime} ${sha}`);
      }
    }
  };
  walk(root, '');
  return out.sort();
}

/** Fresh, not-yet-existing folder under the test base. */
let n = 0;
const fresh = (name: string) => join(base, `${name}-${++n}`);

const expected = listing(src);

test.after(() => removeScratch(base));

test('bzip2 archive is restorable by plain `tar xjf` and recorded checksums match the source (a, f)', async () => {
  const out = join(base, 'table.tbz');
  const r = await createArchive({ sourceDir: src, output: out, compression: 'bzip2' });
  assert.ok(!existsSync(`${out}.partial`));
  assert.is(r.bytesOut, statSync(out).size);
  assert.is(r.sha256, await sha256File(out));
  assert.is(r.files.length, 5);
  for (const f of r.files) {
    assert.is(f.sha256, await sha256File(join(src, f.path)), f.path);
    assert.is(f.size, statSync(join(src, f.path)).size);
  }
  assert.is(r.bytesIn, r.files.reduce((s, f) => s + f.size, 0));
  const dir = fresh('tar-xjf');
  mkdirSync(dir);
  await runCommand(['tar', 'xjf', out, '-C', dir]);
  assert.equal(listing(dir), expected);
  // Entry names are spelled like `tar cjf x.tbz -C dir .`.
  const names = (await runCommand(['tar', 'tjf', out])).stdout.trim().split('\n');
  assert.is(names[0], './');
  assert.ok(names.includes('./sub/'));
  assert.ok(names.includes('./sub/manifest.json'));
});

test('every installed bzip2 program yields a .tbz that `tar xjf` restores', async () => {
  for (const p of ['lbzip2', 'pbzip2', 'bzip2'] as Bzip2Program[]) {
    if (!(await hasProgram(p))) continue;
    const out = join(base, `via-${p}.tbz`);
    await createArchive({ sourceDir: src, output: out, compression: 'bzip2', bzip2Program: p, threads: 2 });
    const dir = fresh(`xjf-${p}`);
    mkdirSync(dir);
    await runCommand(['tar', 'xjf', out, '-C', dir]);
    assert.equal(listing(dir), expected, p);
  }
});

for (const compression of COMPRESSIONS) {
  test(`${compression}: extractArchive restores the same tree and checksums (b, c)`, async () => {
    const out = join(base, `rt.${compression}`);
    const created = await createArchive({ sourceDir: src, output: out, compression, threads: 2 });
    for (const mode of [compression, 'auto'] as const) {
      const dir = fresh(`rt-${compression}-${mode}`);
      const r = await extractArchive({ archive: out, targetDir: dir, compression: mode });
      assert.equal(listing(dir), expected);
      assert.equal(r.files, created.files);
    }
  });
}

test('xz and plain tar archives are readable by GNU tar too', async () => {
  for (const [c, flag] of [['xz', 'xJf'], ['none', 'xf']] as const) {
    const out = join(base, `gnu.${c}`);
    await createArchive({ sourceDir: src, output: out, compression: c, xzPreset: 0 }); // preset only changes speed here
    const dir = fresh(`gnu-${c}`);
    mkdirSync(dir);
    await runCommand(['tar', flag, out, '-C', dir]);
    assert.equal(listing(dir), expected);
  }
});

test('output may be a stream; extraction may read a stream', async () => {
  const out = join(base, 'streamed.tbz');
  const ws = createWriteStream(out);
  const r = await createArchive({ sourceDir: src, output: ws, compression: 'bzip2' });
  assert.is(r.sha256, await sha256File(out));
  const dir = fresh('from-stream');
  const { createReadStream } = await import('node:fs');
  await extractArchive({ archive: createReadStream(out), targetDir: dir, compression: 'auto' });
  assert.equal(listing(dir), expected);
});

test('progress reports cumulative source bytes', async () => {
  const seen: number[] = [];
  const r = await createArchive({ sourceDir: src, output: join(base, 'progress.tar'), compression: 'none', onProgress: (b) => seen.push(b) });
  assert.ok(seen.length > 1);
  assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]));
  assert.is(seen[seen.length - 1], r.bytesIn);
});

for (const compression of COMPRESSIONS) {
  test(`${compression}: abort mid-way rejects and leaves neither the archive nor a .partial (e)`, async () => {
    const out = join(base, `aborted.${compression}`);
    const ac = new AbortController();
    const started = Date.now();
    const err = await createArchive({
      sourceDir: src, output: out, compression, signal: ac.signal,
      onProgress: (b) => b > 1024 * 1024 && ac.abort(),
    }).then(() => null, (e: unknown) => e as Error);
    assert.ok(err, 'expected a rejection');
    assert.is(err!.name, 'AbortError');
    assert.ok(!existsSync(out));
    assert.ok(!existsSync(`${out}.partial`));
    assert.ok(Date.now() - started < 20_000);
  });
}

test('aborting an extraction stops it and removes the half-written file', async () => {
  const out = join(base, 'abort-extract.tar');
  await createArchive({ sourceDir: src, output: out, compression: 'none' });
  const bytes = readFileSync(out);
  const feed = new PassThrough();
  feed.write(bytes.subarray(0, 2 * 1024 * 1024)); // stops inside nb-1-big-Data.db, the first file
  const dir = fresh('abort-extract');
  const ac = new AbortController();
  const running = extractArchive({ archive: feed, targetDir: dir, compression: 'none', signal: ac.signal }).catch((e: Error) => e);
  const partial = join(dir, 'nb-1-big-Data.db');
  for (let i = 0; i < 200 && !(existsSync(partial) && statSync(partial).size > 0); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(existsSync(partial), 'extraction should have started writing');
  ac.abort();
  const err = await running;
  assert.instance(err, Error);
  assert.is((err as Error).name, 'AbortError');
  assert.ok(!existsSync(partial));
});

test('an already-aborted signal rejects before creating anything', async () => {
  const out = join(base, 'never.tbz');
  const err = await createArchive({ sourceDir: src, output: out, compression: 'bzip2', signal: AbortSignal.abort() }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.ok(!existsSync(`${out}.partial`) && !existsSync(out));
});

test('a symlink in the source is refused before any output exists', async () => {
  const bad = join(base, 'with-link');
  mkdirSync(bad);
  writeFileSync(join(bad, 'a.db'), 'x');
  symlinkSync('/etc', join(bad, 'etc-link'));
  const out = join(base, 'with-link.tbz');
  const err = await createArchive({ sourceDir: bad, output: out, compression: 'bzip2' }).catch((e: Error) => e);
  assert.instance(err, ValidationError);
  assert.match((err as Error).message, /etc-link/);
  assert.ok(!existsSync(`${out}.partial`) && !existsSync(out));
});

test.run();
