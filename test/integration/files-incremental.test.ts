/**
 * Incremental attachments of the files role, folder store: a set built on a parent copies only
 * what the parent does not hold and names the set storing the rest; restore and verify find every
 * attachment where it is stored. Driven directly on folders and a local destination: needs no sandbox.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parentSet, type ParentRef } from '../../agent/backup/parent';
import { filesRole } from '../../agent/roles/files/role';
import { verifyBackupSet } from '../../coordinator/sets/verify';
import { LocalDestination } from '../../shared/destination';
import type { Manifest } from '../../shared/manifest';
import type { ListedFile } from '../../shared/parts/files';
import { writeReferenced } from '../../shared/parts/io';
import { readListingFile } from '../helpers/listing';
import { backupContext, manifestOf, publishManifest, restoreContext, runBackup } from '../helpers/roles';
import { trustOf } from '../helpers/signing';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const work = scratchDirSync('files-incr');
const destRoot = join(work, 'dest');
mkdirSync(destRoot);
const config = { type: 'local' as const, path: destRoot };
const destination = new LocalDestination(config);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const isRoot = process.getuid?.() === 0;
const MTIME = 1_790_000_000;

test.after(() => removeScratch(work));

/** A TheHive-like store: attachments named by their content under aa/bb/, plus a few named otherwise. */
function store() {
  const src = join(work, `src-${randomBytes(3).toString('hex')}`);
  const put = (rel: string, body: Buffer, mode = 0o640) => {
    mkdirSync(join(src, rel, '..'), { recursive: true });
    writeFileSync(join(src, rel), body);
    chmodSync(join(src, rel), mode);
  };
  const named = (body: Buffer) => `${sha(body).slice(0, 2)}/${sha(body).slice(2, 4)}/${sha(body)}`;
  for (let i = 0; i < 3; i++) {
    const body = randomBytes(1500 + i);
    put(named(body), body);
  }
  put('top', Buffer.from('top file'), 0o600);
  put('ab/cd/one', randomBytes(5000), 0o644);
  if (isRoot) chownSync(join(src, 'ab/cd/one'), 1234, 2345);
  // A whole second, which a replacement can be given exactly (utimes rounds finer instants).
  utimesSync(join(src, 'ab/cd/one'), MTIME, MTIME);
  const role = filesRole({ store: 'localfs', location: src, concurrency: 2, restoreTargets: [work] });
  return { src, put, named, role };
}

/** Every regular file under `root`, as sorted '/'-separated relative paths. */
function listFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).filter((p) => statSync(join(root, p)).isFile()).map((p) => p.split('\\').join('/')).sort();
}

/** One files backup of `role`, built on `parent` when given; its manifest is published at the destination. */
async function backup(role: ReturnType<typeof filesRole>, parent: ParentRef | null, log = pino({ level: 'silent' })) {
  const ctx = { ...backupContext(work, destination, 'files'), log };
  if (parent) ctx.parent = parentSet(parent, destination, ctx.node);
  const { commit, shipped, result } = await runBackup(role, ctx);
  const m: Manifest = manifestOf(ctx.backupId, [{ node: 'node1', role: 'files', commit, shipped }], parent?.backupId ?? null);
  const ref = await publishManifest(destination, m);
  const listing = await readListingFile(join(destRoot, ctx.backupId, 'node1/files/listing.ndjson'), ctx.backupId);
  if (listing.header.store !== 'localfs') throw new Error('a folder store gives a folder listing');
  const bySet = (f: ListedFile) => f.set ?? '(this set)';
  return { id: ctx.backupId, m, ref, shipped, result, files: listing.files, sets: Object.fromEntries(listing.files.map((f) => [f.path, bySet(f)])) };
}

test('a set built on a parent stores only new and changed attachments; restore and verify find the rest in the parent', async () => {
  const { src, put, named, role } = store();
  const first = await backup(role, null);
  assert.is(first.result.fileCount, 5);
  assert.equal(first.result.referenced, { files: 0, bytes: 0 });
  assert.ok(first.files.every((f) => f.set === undefined), 'a full set stores every attachment');

  // Two new attachments, and one replaced under its name with the same size and mtime (a copy
  // that preserved them): only its inode tells it apart, and it must be copied again.
  const added = [randomBytes(700), randomBytes(900)];
  for (const b of added) put(named(b), b);
  const old = statSync(join(src, 'ab/cd/one'));
  writeFileSync(join(src, 'ab/cd/.one.new'), randomBytes(5000));
  utimesSync(join(src, 'ab/cd/.one.new'), MTIME, MTIME);
  renameSync(join(src, 'ab/cd/.one.new'), join(src, 'ab/cd/one'));
  chmodSync(join(src, 'ab/cd/one'), 0o644);
  if (isRoot) chownSync(join(src, 'ab/cd/one'), 1234, 2345);
  assert.is(statSync(join(src, 'ab/cd/one')).mtimeMs, old.mtimeMs, 'same mtime as the parent recorded');
  // A mode change is not a content change: the file stays in the parent, its new mode is listed.
  chmodSync(join(src, 'top'), 0o644);

  const second = await backup(role, first.ref);
  const changed = ['ab/cd/one', ...added.map(named)].sort();
  assert.is(second.shipped.listed!.files, 3, 'only what the parent lacks is stored');
  assert.is(second.result.fileCount, 3);
  assert.equal(second.result.referenced, { files: 4, bytes: first.files.filter((f) => f.path !== 'ab/cd/one').reduce((a, f) => a + f.size, 0) });
  assert.match(second.result.summary, /^copied 3 files .*, 4 unchanged kept by earlier sets/);
  assert.equal(listFiles(join(destRoot, second.id, 'node1/files/data')), changed, 'the set folder holds the 3 files it stores');
  assert.equal(Object.keys(second.sets).sort(), listFiles(src), 'the listing still holds the whole cut');
  for (const [p, set] of Object.entries(second.sets)) assert.is(set, changed.includes(p) ? '(this set)' : first.id, p);
  assert.is(second.files.find((f) => f.path === 'top')!.mode, 0o644, 'mode from this cut');

  // A third set with nothing changed names the set storing each attachment, never its parent as a hop.
  const third = await backup(role, second.ref);
  assert.equal([third.result.fileCount, third.result.referenced.files], [0, 7]);
  for (const [p, set] of Object.entries(third.sets)) assert.is(set, changed.includes(p) ? second.id : first.id, p);

  // Restore of the second set into an empty folder: every attachment, wherever it is stored.
  const target = join(work, 'restored');
  const restoreCtx = () => restoreContext(work, second.m, destination, 'files', { filesTarget: target });
  const load = await role.restore('load', restoreCtx());
  assert.match(load!.detail!, /^7 files into /);
  assert.equal(listFiles(target), listFiles(src));
  for (const p of listFiles(src)) {
    const [a, o] = [statSync(join(target, p)), statSync(join(src, p))];
    assert.is(sha(readFileSync(join(target, p))), sha(readFileSync(join(src, p))), p);
    assert.equal([a.mode & 0o7777, a.size], [o.mode & 0o7777, o.size], p);
    if (isRoot) assert.equal([a.uid, a.gid], [o.uid, o.gid], p);
  }
  assert.is((await role.restore('verify', restoreCtx()))!.ok, true);

  // verify reads every attachment at the set storing it, and names one an earlier set lost.
  assert.equal((await verifyBackupSet(new LocalDestination(config), second.id, { trust: trustOf() })).problems, []);
  const lost = first.files.find((f) => f.path !== 'ab/cd/one' && f.path !== 'top')!.path;
  unlinkSync(join(destRoot, first.id, 'node1/files/data', lost));
  const report = await verifyBackupSet(new LocalDestination(config), second.id, { trust: trustOf() });
  assert.is(report.ok, false);
  assert.equal(report.problems, [`${first.id}/node1/files/data/${lost}: missing (attachment ${lost} of node1, unchanged since set ${first.id} which stores it; this set needs it)`]);
  assert.is((await verifyBackupSet(new LocalDestination(config), third.id, { trust: trustOf() })).problems.length, 1, 'the third set needs it too');
});

test('a parent whose listing cannot be read: the set stores every attachment and the agent logs why', async () => {
  const { role } = store();
  const first = await backup(role, null);
  appendFileSync(join(destRoot, first.id, 'node1/files/listing.ndjson'), ' ');
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => done(void lines.push(JSON.parse(String(chunk)))) }));
  const second = await backup(role, first.ref, log);
  assert.is(second.result.fileCount, 5);
  assert.equal(second.result.referenced, { files: 0, bytes: 0 });
  assert.ok(second.files.every((f) => f.set === undefined));
  const why = lines.find((l) => l.parent === first.id && typeof l.why === 'string');
  assert.ok(why, JSON.stringify(lines));
  assert.match(String(why!.why), /listing\.ndjson does not match its record/);
  assert.is(why!.level, 40, 'a warning');
});

test('a parent written in the former listing format (one JSON document) is still built on', async () => {
  const { role } = store();
  const first = await backup(role, null);
  // The same set as an earlier version wrote it: listing.json, referenced by the part and the manifest's files.
  const listing = await readListingFile(join(destRoot, first.id, 'node1/files/listing.ndjson'), first.id);
  const h = listing.header as Extract<typeof listing.header, { store: 'localfs' }>;
  const v2 = { format: 'tandem.files-listing/v2', cutAt: h.cutAt, store: 'localfs', location: h.location, files: listing.files, dirs: listing.dirs, changed: [], missing: [], unstorable: [], summary: '' };
  const ref = await writeReferenced(destination, `${first.id}/node1/files/listing.json`, JSON.stringify(v2) + '\n');
  const old = first.m.nodes[0].parts.files!.listing.path;
  first.m.nodes[0].parts.files!.listing = ref;
  first.m.files = first.m.files.map((f) => (f.path === old ? { ...f, ...ref } : f));
  const parent = await publishManifest(destination, first.m);
  const second = await backup(role, parent);
  assert.equal([second.result.fileCount, second.result.referenced.files], [0, 5], 'every attachment kept by the parent');
  for (const set of Object.values(second.sets)) assert.is(set, first.id);
  assert.equal((await verifyBackupSet(new LocalDestination(config), first.id, { trust: trustOf() })).problems, [], 'verify reads the former format');
});

test.run();
