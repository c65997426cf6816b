/**
 * Restore of the elasticsearch and files roles, driven directly against the sandbox's real
 * Elasticsearch and MinIO: back up to a local destination, build the manifest, restore.
 * Uses a throwaway index (never thehive_global, which other tests use concurrently).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from '@elastic/elasticsearch';
import { test } from 'uvu';
import { readListingFile } from '../helpers/listing';
import * as assert from 'uvu/assert';
import { elasticsearchRole } from '../../agent/roles/elasticsearch/role';
import { parentSet } from '../../agent/backup/parent';
import { filesRole } from '../../agent/roles/files/role';
import { verifyBackupSet } from '../../coordinator/sets/verify';
import { LocalDestination } from '../../shared/destination';
import type { RestoreOptionsInput } from '../../shared/wire/restore';
import type { Manifest } from '../../shared/manifest';
import { rejects } from '../helpers/assert';
import { backupContext, manifestOf, publishManifest, restoreContext, runBackup } from '../helpers/roles';
import { trustOf } from '../helpers/signing';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const env = sandboxEnvOrNull();
const work = scratchDirSync('restore-it');
const destRoot = join(work, 'dest');
mkdirSync(destRoot);
const destination = new LocalDestination({ type: 'local', path: destRoot });
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const REPO = `tandem-it-restore-${run}`;
const INDEX = `thehive_global_t${run}`;
const ALIAS = `thehive_t${run}`;
const REBUILT = `${INDEX}1`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const es = env ? new Client({ node: env.elasticsearch.url }) : (null as unknown as Client);
const count = async (index: string) => (await es.count({ index })).count;

const esRole = (url = env!.elasticsearch.url, theHiveConfig?: string) =>
  elasticsearchRole({ url, theHiveConfig, repository: REPO, repositoryLocation: `${env!.elasticsearch.pathRepo}/${REPO}`, indexPatterns: [INDEX], allowYellow: false, snapshotTimeoutMs: 300_000, pollIntervalMs: 200, requestTimeoutMs: 30_000 });
const restoreCtx = (m: Manifest, role: string, options: RestoreOptionsInput = {}) => restoreContext(work, m, destination, role, options);

test.before(async () => {
  if (!env) return; // nothing to set up: each test fails on needSandbox()
  await es.indices.create({ index: INDEX, settings: { number_of_shards: 1, number_of_replicas: 0 }, aliases: { [ALIAS]: {} } });
  await es.bulk({ refresh: true, operations: Array.from({ length: 20 }, (_, i) => [{ index: { _index: INDEX, _id: `d${i}` } }, { n: i, text: `doc ${i}` }]).flat() });
});

test.after(async () => {
  if (env) {
    await es.indices.delete({ index: [INDEX, `drill-${INDEX}`, REBUILT], ignore_unavailable: true }).catch(() => undefined);
    const snaps = await es.snapshot.get({ repository: REPO, snapshot: '*' }).catch(() => null);
    for (const s of snaps?.snapshots ?? []) await es.snapshot.delete({ repository: REPO, snapshot: s.snapshot }).catch(() => undefined);
    await es.snapshot.deleteRepository({ name: REPO }).catch(() => undefined);
    await es.close();
    rmSync(`${env.elasticsearch.pathRepo}/${REPO}`, { recursive: true, force: true });
  }
  removeScratch(work);
});

/** Backs the throwaway index up once; the manifest is shared by the ES tests. */
let esManifest: Manifest | undefined;
async function esBackup(): Promise<Manifest> {
  if (esManifest) return esManifest;
  const ctx = backupContext(work, destination, 'elasticsearch');
  const { commit, shipped } = await runBackup(esRole(), ctx);
  assert.equal(commit.indices, [INDEX]);
  assert.is(commit.docCounts[INDEX], 20);
  return (esManifest = manifestOf(ctx.backupId, [{ node: 'node1', role: 'elasticsearch', commit, shipped }]));
}

test('elasticsearch: restore into prefix drill- beside the live index, verify, drop_scratch removes it', async () => {
  needSandbox(env);
  const m = await esBackup();
  const role = esRole();
  // Another node name than the source: the part is found by role.
  const opts = { indexPrefix: 'drill-' };
  const ctx = restoreContext(work, m, destination, 'elasticsearch', opts, 'other-node');
  assert.is(await role.restore('fetch', ctx), null);
  assert.is(await role.restore('schema', ctx), null);
  const load = await role.restore('load', ctx);
  assert.match(load!.detail!, new RegExp(`as drill-${INDEX} \\((\\d+)/\\1 shards\\)$`), 'every shard restored, nothing deleted');
  assert.equal(await role.restore('load', ctx), load, 'a repeated load reports the same restore');
  const aliases = await es.indices.getAlias({ index: `drill-${INDEX}` });
  assert.equal(Object.keys(aliases[`drill-${INDEX}`].aliases), [], 'a renamed copy takes no alias');
  assert.is(await count(INDEX), 20, 'the live index is untouched');
  const verify = await role.restore('verify', ctx);
  assert.equal(verify, { indices: [{ index: `drill-${INDEX}`, actual: 20, counted: true, expected: 20 }], ok: true, problems: [], detail: '' });
  assert.is(await role.restore('cleanup', restoreCtx(m, 'elasticsearch', opts)), null, 'no drop_scratch: the copy stays');
  const cleanup = await role.restore('cleanup', restoreCtx(m, 'elasticsearch', { ...opts, dropScratch: true }));
  assert.equal(cleanup, { detail: `dropped drill-${INDEX}` });
  assert.not.ok(await es.indices.exists({ index: `drill-${INDEX}` }));
});

test('elasticsearch: in place, the index is deleted and restored with its alias and count', async () => {
  needSandbox(env);
  const m = await esBackup();
  const role = esRole();
  for (let i = 0; i < 5; i++) await es.delete({ index: INDEX, id: `d${i}` });
  await es.indices.refresh({ index: INDEX });
  // As after a TheHive index rebuild: the alias has moved to a newer index.
  await es.indices.deleteAlias({ index: INDEX, name: ALIAS });
  await es.indices.create({ index: REBUILT, settings: { number_of_shards: 1, number_of_replicas: 0 }, aliases: { [ALIAS]: {} } });
  assert.is(await count(INDEX), 15);
  const ctx = restoreCtx(m, 'elasticsearch');
  const load = await role.restore('load', ctx);
  assert.match(load!.detail!, new RegExp(`as ${INDEX} \\((\\d+)/\\1 shards\\); deleted ${INDEX} first; took aliases off ${REBUILT} \\(${ALIAS}\\), left in place$`));
  assert.equal(Object.keys(await es.indices.getAlias({ name: ALIAS })), [INDEX], 'the alias is on the restored index only');
  assert.ok(await es.indices.exists({ index: REBUILT }), 'the newer index is left for the operator');
  const verify = await role.restore('verify', ctx);
  assert.ok(verify!.ok, JSON.stringify(verify));
  assert.is(await count(INDEX), 20);
  assert.ok(await es.indices.existsAlias({ name: ALIAS, index: INDEX }), 'alias restored');
  assert.is(await role.restore('cleanup', restoreCtx(m, 'elasticsearch', { dropScratch: true })), null, 'dropScratch never drops an in-place restore');
  assert.ok(await es.indices.exists({ index: INDEX }));
});

test('elasticsearch: a missing snapshot and a skipped index', async () => {
  needSandbox(env);
  const m = structuredClone(await esBackup());
  const part = m.nodes[0].parts.elasticsearch!;
  if ('snapshot' in part) part.snapshot = 'no-such-snapshot';
  await rejects(() => esRole().restore('load', restoreCtx(m, 'elasticsearch', { indexPrefix: 'drill-' })), /snapshot .*\/no-such-snapshot does not exist/);
  const ctx = backupContext(work, destination, 'elasticsearch', { skipIndex: true });
  const unreachable = esRole('http://127.0.0.1:9299'); // nothing may be called for a skipped index
  const { commit, shipped } = await runBackup(unreachable, ctx);
  const skipped = manifestOf(ctx.backupId, [{ node: 'node1', role: 'elasticsearch', commit, shipped }]);
  const load = await unreachable.restore('load', restoreCtx(skipped, 'elasticsearch'));
  assert.match(load!.detail!, /not backed up.*index must be rebuilt.*forceDropAndRebuildIndex/);
  assert.is(await unreachable.restore('verify', restoreCtx(skipped, 'elasticsearch')), null);

  // --rebuild-index: refused in the first phase without a writable application.conf, applied at load with one.
  await rejects(() => unreachable.restore('fetch', restoreCtx(skipped, 'elasticsearch', { rebuildIndex: true })), /needs roles\.elasticsearch\.theHiveConfig/);
  const conf = join(work, 'application.conf');
  writeFileSync(conf, 'db.janusgraph.index.search { backend = elasticsearch, hostname = ["127.0.0.1"] }\n');
  const withConf = esRole('http://127.0.0.1:9299', conf);
  await withConf.restore('fetch', restoreCtx(skipped, 'elasticsearch', { rebuildIndex: true }));
  const applied = await withConf.restore('load', restoreCtx(skipped, 'elasticsearch', { rebuildIndex: true }));
  assert.ok(applied!.detail!.endsWith(`the flag is set in ${conf}`), applied!.detail);
  assert.match(readFileSync(conf, 'utf8'), /\ndb\.janusgraph\.forceDropAndRebuildIndex = true\n/);
});

/** A small attachments folder with varied modes and owners, backed up once. */
async function filesBackup() {
  const src = join(work, `src-${randomBytes(3).toString('hex')}`);
  mkdirSync(join(src, 'ab/cd'), { recursive: true });
  mkdirSync(join(src, 'empty'));
  const bodies: Record<string, Buffer> = { 'ab/cd/one': randomBytes(5000), 'ab/cd/two': randomBytes(70_000), top: Buffer.from('top') };
  for (const [p, b] of Object.entries(bodies)) writeFileSync(join(src, p), b);
  chmodSync(join(src, 'ab/cd/one'), 0o640);
  chmodSync(join(src, 'ab/cd/two'), 0o600);
  chmodSync(join(src, 'ab'), 0o750);
  if (process.getuid?.() === 0) chownSync(join(src, 'ab/cd/two'), 1234, 2345);
  // The test's own folder may be emptied by --files-clean (restoreTargets defaults to the store alone).
  const role = filesRole({ store: 'localfs', location: src, concurrency: 2, restoreTargets: [work] });
  const ctx = backupContext(work, destination, 'files');
  const { commit, shipped } = await runBackup(role, ctx);
  return { src, bodies, role, m: manifestOf(ctx.backupId, [{ node: 'node1', role: 'files', commit, shipped }]) };
}

test('files: load into files_target restores bytes, modes and owners; resumes; verify; clean; drop_scratch', async () => {
  needSandbox(env);
  const { src, bodies, role, m } = await filesBackup();
  const target = join(work, 'target1');
  const opts = { filesTarget: target };
  const load = await role.restore('load', restoreCtx(m, 'files', opts));
  assert.match(load!.detail!, /^3 files into .* \(75003 bytes copied, 0 already there\)/);
  for (const [p, b] of Object.entries(bodies)) {
    assert.is(sha(readFileSync(join(target, p))), sha(b), p);
    const [a, o] = [statSync(join(target, p)), statSync(join(src, p))];
    assert.equal([a.mode & 0o7777, a.uid, a.gid], [o.mode & 0o7777, o.uid, o.gid], p);
    assert.ok(Math.abs(a.mtimeMs - o.mtimeMs) < 1, `${p}: mtime ${a.mtimeMs} vs ${o.mtimeMs}`);
  }
  assert.is(statSync(join(target, 'ab')).mode & 0o7777, 0o750);
  assert.ok(statSync(join(target, 'empty')).isDirectory(), 'empty folders come back');
  const again = await role.restore('load', restoreCtx(m, 'files', opts));
  assert.match(again!.detail!, /\(0 bytes copied, 3 already there\)/, 'a resumed load skips files already right');
  assert.equal(await role.restore('verify', restoreCtx(m, 'files', opts)), { ok: true, problems: [], problemCount: 0, files: { files: 3, bytes: 75_003, extraCount: 0, extraFirst: [] } });
  // Damage after the load is what verify is for.
  writeFileSync(join(target, 'top'), 'TOP');
  chmodSync(join(target, 'ab/cd/one'), 0o666);
  const bad = await role.restore('verify', restoreCtx(m, 'files', opts));
  assert.equal([bad!.ok, bad!.problems], [false, ['ab/cd/one: mode 666, expected 640', 'top: sha256 differs']]);
  // A file the backup does not hold is reported, not an error; files_clean removes it, and the load repairs the rest.
  writeFileSync(join(target, 'ab/extra'), 'x');
  const extra = (await role.restore('verify', restoreCtx(m, 'files', opts)))!.files!;
  assert.equal([extra.extraCount, extra.extraFirst], [1, ['ab/extra']]);
  const clean = await role.restore('load', restoreCtx(m, 'files', { ...opts, filesClean: true }));
  assert.match(clean!.detail!, /2 already there, 1 not in the backup removed\)/);
  assert.not.ok(existsSync(join(target, 'ab/extra')));
  assert.ok((await role.restore('verify', restoreCtx(m, 'files', opts)))!.ok);
  assert.is(await role.restore('cleanup', restoreCtx(m, 'files', opts)), null);
  assert.equal(await role.restore('cleanup', restoreCtx(m, 'files', { ...opts, dropScratch: true })), { detail: `removed ${target}` });
  assert.not.ok(existsSync(target));
});

test('files: a tampered file at the destination fails the load and leaves no file under its name', async () => {
  needSandbox(env);
  const { role, m } = await filesBackup();
  const stored = join(destRoot, m.id, 'node1/files/data/ab/cd/two');
  const bytes = readFileSync(stored);
  bytes[100] ^= 0xff; // same size, other content
  writeFileSync(stored, bytes);
  const target = join(work, 'target2');
  await rejects(() => role.restore('load', restoreCtx(m, 'files', { filesTarget: target })), /ab\/cd\/two at the destination does not match .*sha256/);
  assert.not.ok(existsSync(join(target, 'ab/cd/two')));
  assert.equal(readdirSync(join(target, 'ab/cd')).filter((n) => n.includes('partial')), [], 'no temporary file left');
});

test('files: unsafe listing paths and planted links are refused; nothing is written outside the target', async () => {
  needSandbox(env);
  const { role, m } = await filesBackup();
  const listingPath = `${m.id}/node1/files/listing.ndjson`;
  const lines = readFileSync(join(destRoot, listingPath), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  const firstFile = lines.find((l) => l.file).file;
  const tampered = structuredClone(m);
  /** Writes a listing with extra entries, and a manifest that agrees with it (a consistent but hostile set). */
  const withEntries = async (...paths: string[]) => {
    const end = lines.at(-1).end;
    const extra = paths.map((path) => ({ file: { ...firstFile, path } }));
    const counted = { end: { ...end, files: end.files + paths.length, bytes: end.bytes + paths.length * firstFile.size } };
    const body = [...lines.slice(0, -1), ...extra, counted].map((l) => JSON.stringify(l)).join('\n') + '\n';
    await destination.writeAtomic(listingPath, body);
    tampered.files.find((f) => f.path === listingPath)!.sha256 = sha(Buffer.from(body));
    tampered.nodes[0].parts.files!.listing = { path: listingPath, size: Buffer.byteLength(body), sha256: sha(Buffer.from(body)) };
  };
  const target = join(work, 'jail/target3');
  await withEntries('../evil', '/tmp/evil-abs');
  await rejects(() => role.restore('load', restoreCtx(tampered, 'files', { filesTarget: target })), /line \d+ is not a valid files listing record: file\.path: "\.\.\/evil": segment "\.\." is not allowed/);
  assert.not.ok(existsSync(join(work, 'jail/evil')));
  assert.not.ok(existsSync(target), 'refused before anything was written');
  // A listing changed without a matching manifest is caught by its sha256.
  await rejects(() => role.restore('load', restoreCtx(m, 'files', { filesTarget: target })), /listing\.ndjson does not match its record/);
  // A link planted in the target must not be followed out of it.
  await withEntries();
  const outside = join(work, 'jail/outside');
  mkdirSync(outside, { recursive: true });
  mkdirSync(target, { recursive: true });
  symlinkSync(outside, join(target, 'ab'));
  await rejects(() => role.restore('load', restoreCtx(tampered, 'files', { filesTarget: target })), /target3: ab is a symbolic link: tandem never follows links here/);
  assert.equal(readdirSync(outside), []);
});

test('files (s3): objects restored into a drill bucket, verified, dropped', async () => {
  needSandbox(env);
  const s3 = new S3Client({ endpoint: env!.minio.endpoint, region: env!.minio.region, forcePathStyle: true, credentials: { accessKeyId: env!.minio.accessKey, secretAccessKey: env!.minio.secretKey } });
  const [bucket, drill] = [`tandem-it-rsrc-${run}`, `tandem-it-rdrill-${run}`];
  const empty = async (b: string) => {
    const objs = await s3.send(new ListObjectsV2Command({ Bucket: b })).catch(() => null);
    for (const o of objs?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: b, Key: o.Key! }));
    await s3.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
  };
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  try {
    for (const k of ['aa/one', 'aa/two', 'bb/three']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: randomBytes(3000) }));
    const { minio } = env!;
    const role = filesRole({ store: 's3', endpoint: minio.endpoint, bucket, region: minio.region, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, forcePathStyle: true, concurrency: 2 });
    const ctx = backupContext(work, destination, 'files');
    const { commit, shipped } = await runBackup(role, ctx);
    const m = manifestOf(ctx.backupId, [{ node: 'node1', role: 'files', commit, shipped }]);
    const opts = { filesBucket: drill };
    assert.equal(await role.restore('load', restoreCtx(m, 'files', opts)), { detail: `3 objects into bucket ${drill} (9000 bytes copied, 0 already there)` });
    assert.match((await role.restore('load', restoreCtx(m, 'files', opts)))!.detail!, /3 already there/, 'resumed load skips');
    assert.equal((await role.restore('verify', restoreCtx(m, 'files', opts)))!.ok, true);
    assert.equal(await role.restore('cleanup', restoreCtx(m, 'files', { ...opts, dropScratch: true })), { detail: `deleted 3 objects from bucket ${drill}` });
    // The drill's bucket itself is gone with its objects.
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: drill })).then(() => 'listed', (err: Error) => err.name);
    assert.is(listed, 'NoSuchBucket');
  } finally {
    await empty(bucket);
    await empty(drill);
    s3.destroy();
  }
});

test('files (s3): a set built on a parent stores new and replaced objects only; restore and verify read the rest from the parent', async () => {
  needSandbox(env);
  const s3 = new S3Client({ endpoint: env!.minio.endpoint, region: env!.minio.region, forcePathStyle: true, credentials: { accessKeyId: env!.minio.accessKey, secretAccessKey: env!.minio.secretKey } });
  const [bucket, drill] = [`tandem-it-rincr-${run}`, `tandem-it-rincrd-${run}`];
  const empty = async (b: string) => {
    const objs = await s3.send(new ListObjectsV2Command({ Bucket: b })).catch(() => null);
    for (const o of objs?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: b, Key: o.Key! }));
    await s3.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
  };
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  try {
    const bodies: Record<string, Buffer> = { 'aa/one': randomBytes(3000), 'aa/two': randomBytes(3000), 'bb/three': randomBytes(3000) };
    const put = (k: string, b: Buffer) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: (bodies[k] = b) }));
    for (const [k, b] of Object.entries(bodies)) await put(k, b);
    const { minio } = env!;
    const role = filesRole({ store: 's3', endpoint: minio.endpoint, bucket, region: minio.region, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, forcePathStyle: true, concurrency: 2 });
    const ctx1 = backupContext(work, destination, 'files');
    const first = await runBackup(role, ctx1);
    const m1 = manifestOf(ctx1.backupId, [{ node: 'node1', role: 'files', commit: first.commit, shipped: first.shipped }]);
    const parent = await publishManifest(destination, m1);
    // One new object, one replaced with other bytes of the same size (a new ETag).
    await put('cc/four', randomBytes(1000));
    await put('aa/two', randomBytes(3000));
    const ctx2 = backupContext(work, destination, 'files');
    ctx2.parent = parentSet(parent, destination, ctx2.node);
    const second = await runBackup(role, ctx2);
    assert.equal([second.result.fileCount, second.result.referenced], [2, { files: 2, bytes: 6000 }]);
    const listing = await readListingFile(join(destRoot, ctx2.backupId, 'node1/files/listing.ndjson'), ctx2.backupId);
    assert.equal(listing.objects.map((o) => [o.key, o.set ?? null]), [['aa/one', ctx1.backupId], ['aa/two', null], ['bb/three', ctx1.backupId], ['cc/four', null]]);
    assert.not.ok(existsSync(join(destRoot, ctx2.backupId, 'node1/files/s3/aa/one')), 'an unchanged object is not copied again');
    const m2 = manifestOf(ctx2.backupId, [{ node: 'node1', role: 'files', commit: second.commit, shipped: second.shipped }], ctx1.backupId);
    await publishManifest(destination, m2);
    assert.equal((await verifyBackupSet(new LocalDestination({ type: 'local', path: destRoot }), m2.id, { trust: trustOf() })).problems, []);
    const opts = { filesBucket: drill };
    assert.equal(await role.restore('load', restoreCtx(m2, 'files', opts)), { detail: `4 objects into bucket ${drill} (10000 bytes copied, 0 already there)` });
    for (const [k, b] of Object.entries(bodies)) {
      const got = await s3.send(new GetObjectCommand({ Bucket: drill, Key: k }));
      assert.is(sha(Buffer.from(await got.Body!.transformToByteArray())), sha(b), k);
    }
    assert.equal((await role.restore('verify', restoreCtx(m2, 'files', opts)))!.ok, true);
    await role.restore('cleanup', restoreCtx(m2, 'files', { ...opts, dropScratch: true }));
  } finally {
    await empty(bucket);
    await empty(drill);
    s3.destroy();
  }
});

test.run();
