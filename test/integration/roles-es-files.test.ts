/**
 * The elasticsearch and files roles driven directly (no agent, no gRPC) against the sandbox's
 * real Elasticsearch, files folder and MinIO. Needs the sandbox (`npm test` brings it up); fails without it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from '@elastic/elasticsearch';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { elasticsearchRole } from '../../agent/roles/elasticsearch/role';
import { filesRole } from '../../agent/roles/files/role';
import { LocalDestination } from '../../shared/destination';
import { readListingFile } from '../helpers/listing';
import type { BackupOptions } from '../../shared/wire/backup-options';
import { backupContext, failedChecks, runBackup } from '../helpers/roles';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const env = sandboxEnvOrNull();

const work = scratchDirSync('roles-it');
const destRoot = join(work, 'dest');
mkdirSync(destRoot);
const destination = new LocalDestination({ type: 'local', path: destRoot });
const run = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const REPO = `tandem-it-${run}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A RoleContext as the controller builds it, with a local destination and a fresh backup id. */
const context = (role: string, options: Partial<BackupOptions> = {}) => backupContext(work, destination, role, options);

/** The listing a files ship wrote, every line checked, with every entry's place at the destination. */
async function listingOf(backupId: string) {
  const listing = await readListingFile(join(destRoot, backupId, 'node1/files/listing.ndjson'), backupId);
  const base = `${backupId}/node1/files`;
  const stored = listing.header.store === 'localfs'
    ? listing.files.map((f) => ({ path: `${base}/data/${f.path}`, size: f.size, sha256: f.sha256, etag: undefined as string | undefined }))
    : listing.objects.map((o) => ({ path: `${base}/s3/${o.key}`, size: o.size, sha256: o.sha256, etag: o.etag }));
  return { listing, stored };
}

/** Waits until the folder walk Commit started has written `lines` entries to the cut in workDir. */
async function walked(ctx: { workDir: string }, lines: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const text = readFileSync(join(ctx.workDir, 'cut.ndjson'), { encoding: 'utf8', flag: 'a+' });
    if (text.split('\n').length > lines) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the walk did not write ${lines} entries`);
}

const esRole = (extra: Record<string, unknown> = {}) =>
  elasticsearchRole({
    url: env!.elasticsearch.url,
    repository: REPO,
    repositoryLocation: `${env!.elasticsearch.pathRepo}/${REPO}`,
    allowYellow: false,
    snapshotTimeoutMs: 300_000,
    pollIntervalMs: 200,
    requestTimeoutMs: 30_000,
    ...extra,
  } as Parameters<typeof elasticsearchRole>[0]);
const failed = failedChecks;

test.after(async () => {
  if (env) {
    const c = new Client({ node: env.elasticsearch.url });
    // The repository holds only this run's snapshots; remove them, the repository and its folder.
    const snaps = await c.snapshot.get({ repository: REPO, snapshot: '*' }).catch(() => null);
    for (const s of snaps?.snapshots ?? []) await c.snapshot.delete({ repository: REPO, snapshot: s.snapshot }).catch(() => undefined);
    await c.snapshot.deleteRepository({ name: REPO }).catch(() => undefined);
    await c.close();
    rmSync(`${env.elasticsearch.pathRepo}/${REPO}`, { recursive: true, force: true });
  }
  removeScratch(work);
});

const backup = runBackup;

test('elasticsearch: preflight, commit and ship give a SUCCESS snapshot with documents', async () => {
  needSandbox(env);
  const role = esRole();
  const ctx = context('elasticsearch');
  const { checks, commit, result, shipped } = await backup(role, ctx);
  assert.equal(checks.map((c) => c.name), ['reachable', 'health', 'repository', 'indices', 'snapshots', 'snapshot name']);
  assert.match(checks.find((c) => c.name === 'repository')!.message, /will be created/);
  assert.ok(commit.cutAt > 0 && commit.indices.includes('thehive_global'), JSON.stringify(commit));
  assert.ok(commit.docCounts.thehive_global > 0, 'doc count recorded at the cut');
  assert.is(result.state, 'SUCCESS');
  assert.is(result.shards.failed, 0);
  assert.ok(result.shards.total > 0 && result.uuid && result.esVersion);
  const rec = JSON.parse(readFileSync(join(destRoot, ctx.backupId, 'node1/elasticsearch/snapshot.json'), 'utf8'));
  assert.is(rec.snapshot, ctx.tag);
  assert.is(rec.repository.type, 'fs');
  assert.is(shipped.files[0].sha256, sha(readFileSync(join(destRoot, shipped.files[0].path))));
  assert.equal(result.record, shipped.files[0], 'the part references its record');
  // The backup's timeline: the snapshot from its start (the cut) until ES reported it finished.
  const span = ctx.spans.find((x) => x.phase === 'snapshot')!;
  assert.ok(span && span.startedAt === commit.cutAt && span.endedAt >= span.startedAt, JSON.stringify(ctx.spans));
  assert.ok(Object.keys(await role.versions()).includes('elasticsearch'));
  // A second preflight finds the repository now existing and verifies it.
  assert.match((await role.preflight(context('elasticsearch'))).find((c) => c.name === 'repository')!.message, /verified on 1 node/);
});

test('elasticsearch: abort deletes the snapshot and the record', async () => {
  needSandbox(env);
  const role = esRole();
  const ctx = context('elasticsearch');
  const { commit } = await backup(role, ctx);
  assert.equal(await role.commit(ctx), commit, 'a repeated commit reports the same cut');
  await role.abort(ctx);
  const c = new Client({ node: env!.elasticsearch.url });
  const r = await c.snapshot.get({ repository: REPO, snapshot: ctx.tag }).catch((e) => e);
  await c.close();
  assert.match(String(r.message ?? r), /snapshot_missing_exception/);
  assert.not.ok(existsSync(join(destRoot, ctx.backupId, 'node1/elasticsearch')));
  await role.abort(ctx); // idempotent: nothing left to delete
});

test('elasticsearch: unreachable cluster fails preflight with a clear message', async () => {
  needSandbox(env);
  const role = esRole({ url: 'http://127.0.0.1:9299', requestTimeoutMs: 3000 });
  const checks = await role.preflight(context('elasticsearch'));
  assert.is(checks.length, 1);
  assert.not.ok(checks[0].ok);
  assert.match(checks[0].message, /Elasticsearch at http:\/\/127\.0\.0\.1:9299 is unreachable .*ECONNREFUSED.*check the url/);
  assert.equal(await role.versions(), {});
});

test('elasticsearch: a missing repository without repositoryLocation fails preflight', async () => {
  needSandbox(env);
  const role = esRole({ repository: 'tandem-it-absent', repositoryLocation: undefined });
  assert.match(failed(await role.preflight(context('elasticsearch'))).join('\n'), /repository tandem-it-absent does not exist; create it or set repositoryLocation/);
  const outside = esRole({ repository: 'tandem-it-absent', repositoryLocation: '/srv/not-in-path-repo' });
  assert.match(failed(await outside.preflight(context('elasticsearch'))).join('\n'), /not inside path.repo/);
});

test('elasticsearch: skip_index takes no snapshot', async () => {
  needSandbox(env);
  const role = esRole({ url: 'http://127.0.0.1:9299' }); // unreachable on purpose: nothing may be called
  const ctx = context('elasticsearch', { skipIndex: true });
  const { commit, result } = await backup(role, ctx);
  assert.equal(commit, { skipped: true, reason: 'index must be rebuilt on restore' });
  assert.equal(result, { skipped: true, reason: 'index must be rebuilt on restore', summary: 'index not backed up (--skip-index)' });
  await role.abort(ctx);
});

test('files (localfs): the sandbox folder is copied whole, every sha256 right', async () => {
  needSandbox(env);
  const role = filesRole({ store: 'localfs', location: env!.files.dir, concurrency: 4 });
  const ctx = context('files');
  const { commit, result, shipped } = await backup(role, ctx);
  assert.is(commit.fileCount, undefined, 'a folder is walked after Commit returns: its counts are in the part');
  assert.ok(result.fileCount > 0);
  assert.equal(result.deviations, { changed: 0, missing: 0, unstorable: 0, examples: [] });
  assert.match(result.summary, /^copied \d+ files .*nothing changed/);
  assert.equal(shipped.files.map((f) => f.path), [`${ctx.backupId}/node1/files/listing.ndjson`], 'attachments are listed, not returned one by one');
  assert.equal(shipped.listed, { files: result.fileCount, bytes: result.bytes });
  // The backup's timeline: one copy span with what was copied.
  const copy = ctx.spans.filter((x) => x.phase === 'copy');
  assert.equal(copy.map((x) => [x.files, x.bytesIn, x.bytesOut]), [[result.fileCount, result.bytes, result.bytes]]);
  for (const f of (await listingOf(ctx.backupId)).stored) {
    const body = readFileSync(join(destRoot, f.path));
    assert.is(f.sha256, sha(body), f.path);
    // TheHive names attachments by their sha256: an independent check of the copy.
    if (/^[0-9a-f]{64}$/.test(basename(f.path))) assert.is(f.sha256, basename(f.path));
  }
  const { listing } = await listingOf(ctx.backupId);
  assert.is(listing.files.length, result.fileCount);
  const first = listing.files[0];
  const st = statSync(join(env!.files.dir, first.path));
  assert.equal([first.mode, first.uid, first.gid], [st.mode & 0o7777, st.uid, st.gid]);
  assert.is(listing.dirs[0].path, '');
  assert.ok(ctx.updates.length > 0, 'progress reported');
  await role.abort(ctx);
  assert.not.ok(existsSync(join(destRoot, ctx.backupId, 'node1/files')), 'abort removes the shipped files');
});

test('files (localfs): deleted, changed and unstorable files are reported, not hidden', async () => {
  needSandbox(env);
  const src = join(work, 'src');
  mkdirSync(join(src, 'ab/cd'), { recursive: true });
  for (const n of ['keep1', 'keep2', 'gone', 'grows']) writeFileSync(join(src, 'ab/cd', n), randomBytes(3000));
  writeFileSync(join(src, 'bad name'), 'x');
  const role = filesRole({ store: 'localfs', location: src, concurrency: 2 });
  const ctx = context('files');
  const { commit, result } = await backup(role, ctx, async () => {
    // After the walk saw them (root, ab, ab/cd, 4 files, 'bad name'), before their copy.
    await walked(ctx, 8);
    unlinkSync(join(src, 'ab/cd/gone'));
    appendFileSync(join(src, 'ab/cd/grows'), 'more');
  });
  assert.equal(await role.commit(ctx), commit, 'a repeated commit reports the same cut');
  assert.equal(result.deviations, { changed: 1, missing: 1, unstorable: 1, examples: ['ab/cd/gone', 'ab/cd/grows', 'bad name'] });
  assert.match(result.summary, /copied 3 files .*1 missing.*1 changed.*1 not stored/);
  const { listing } = await listingOf(ctx.backupId);
  assert.equal(listing.missing, ['ab/cd/gone']);
  assert.equal(listing.changed.map((c) => c.path), ['ab/cd/grows']);
  assert.equal(listing.unstorable.map((u) => u.path), ['bad name']);
  assert.is(listing.files.length, 3);
  assert.is(readFileSync(join(destRoot, ctx.backupId, 'node1/files/data/ab/cd/grows')).length, 3004);
});

test('files (localfs): a missing folder fails preflight clearly', async () => {
  needSandbox(env);
  const checks = await filesRole({ store: 'localfs', location: join(work, 'nope'), concurrency: 4 }).preflight(context('files'));
  assert.match(failed(checks).join(), /does not exist \(is the share mounted\?\)/);
});

/** S3 store settings for the sandbox's MinIO. */
const s3Files = (bucket: string) =>
  filesRole({ store: 's3', endpoint: env!.minio.endpoint, bucket, region: env!.minio.region, accessKeyId: env!.minio.accessKey, secretAccessKey: env!.minio.secretKey, forcePathStyle: true, concurrency: 4 });

test('files (s3): objects deleted or replaced after the cut are reported', async () => {
  needSandbox(env);
  const s3 = new S3Client({ endpoint: env!.minio.endpoint, region: env!.minio.region, forcePathStyle: true, credentials: { accessKeyId: env!.minio.accessKey, secretAccessKey: env!.minio.secretKey } });
  const bucket = `tandem-it-files-${run}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  try {
    for (const k of ['aa/one', 'aa/two', 'bb/gone', 'bb/replaced']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: randomBytes(2000) }));
    const role = s3Files(bucket);
    const ctx = context('files');
    const { result } = await backup(role, ctx, async () => {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'bb/gone' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bb/replaced', Body: 'new content' }));
    });
    assert.equal(result.deviations, { changed: 1, missing: 1, unstorable: 0, examples: ['bb/gone', 'bb/replaced'] });
    assert.is(result.fileCount, 2);
    for (const f of (await listingOf(ctx.backupId)).stored) assert.is(f.sha256, sha(readFileSync(join(destRoot, f.path))));
  } finally {
    const objs = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    for (const o of objs.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    s3.destroy();
  }
});

test('files (s3): the sandbox thehive bucket is copied whole with sizes, etags and sha256', async () => {
  needSandbox(env);
  const role = s3Files(env!.minio.filesBucket);
  const ctx = context('files');
  const { commit, result } = await backup(role, ctx);
  assert.ok(commit.fileCount > 0);
  assert.equal(result.deviations, { changed: 0, missing: 0, unstorable: 0, examples: [] });
  const data = (await listingOf(ctx.backupId)).stored;
  assert.is(data.length, commit.fileCount);
  for (const f of data) {
    const body = readFileSync(join(destRoot, f.path));
    assert.is(body.length, f.size);
    assert.is(f.sha256, sha(body));
    // Single-part ETags are the MD5 of the object: an independent check of the copy.
    if (f.etag && !f.etag.includes('-')) assert.is(f.etag, `"${createHash('md5').update(body).digest('hex')}"`, f.path);
  }
  await role.abort(ctx);
  assert.not.ok(existsSync(join(destRoot, ctx.backupId, 'node1/files')));
});

test.run();
