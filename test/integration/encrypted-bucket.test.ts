/**
 * The files role with a bucket store (TheHive's attachments in the sandbox's MinIO) in an
 * encrypted set, end to end on a real agent and the real CLI: every stored file of the role is an
 * age file and no stored name or byte holds an object's key or body; a restore with the fleet's
 * identity gives every object back byte for byte; a wrong identity is refused, naming the
 * recipients the set was written for, and puts no object into the bucket; an incremental set
 * after one replaced object stores only that object's ciphertext, and its restore finds the rest
 * in the parent. `tandem restore` has no flag for a drill bucket: it restores into the agent's
 * configured bucket, so that bucket (a throwaway one of this file) is emptied before each restore.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNewIdentityFile } from '../../coordinator/keys';
import { filesUnder } from '../helpers/files-under';
import { encryptFleet, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';

const env = sandboxEnvOrNull();
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const BUCKET = `tandem-it-encb-${run}`;
/** Both the key and the body of one object: no stored name or byte of a set may hold it. */
const MARKER = `tandemmarkerobject${run}`;
const MARKED = `aa/${MARKER}`;
const MARKED_BODY = Buffer.from(`${MARKER} `.repeat(40));
const OTHER = 'bb/other';
const THIRD = 'cc/third';
const ID1 = `tandem-20261208t010000z-eb${run.slice(-4)}1`;
const ID2 = `tandem-20261208t010100z-eb${run.slice(-4)}2`;
const AGE_HEADER = 'age-encryption.org/v1\n';

const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
const s3 = env
  ? new S3Client({ endpoint: env.minio.endpoint, region: env.minio.region, forcePathStyle: true, credentials: { accessKeyId: env.minio.accessKey, secretAccessKey: env.minio.secretKey } })
  : (null as unknown as S3Client);
/** What the bucket holds, as this file put it there: key → body. */
const bodies: Record<string, Buffer> = {};
let fleet: TestFleet | undefined;
let ops: { file: string; recipient: string };
let other: { file: string; recipient: string };

const put = (key: string, body: Buffer) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: (bodies[key] = body) }));

/** Every key in the bucket; [] when it does not exist. */
async function keysOf(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token })).catch(() => null);
    if (!page) return keys;
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Deletes every object of the bucket, and the bucket too when `drop`. */
async function emptyBucket(bucket: string, drop = false): Promise<void> {
  for (const key of await keysOf(bucket)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  if (drop) await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}

/** key → sha256 of every object in the bucket. */
async function digestsOf(bucket: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await keysOf(bucket)) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    out[key] = sha(await got.Body!.transformToByteArray());
  }
  return out;
}

const expectedDigests = () => Object.fromEntries(Object.entries(bodies).map(([k, b]) => [k, sha(b)]).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The files role's folder of set `id` at the destination. */
const filesFolder = (id: string) => join(fleet!.destDir, id, 'files1', 'files');

/** The first bytes of `file`, as many as the age header has. */
async function headOf(file: string): Promise<string> {
  const head = Buffer.alloc(AGE_HEADER.length);
  const h = await open(file);
  const { bytesRead } = await h.read(head, 0, head.length, 0).finally(() => h.close());
  return head.subarray(0, bytesRead).toString();
}

test.before(async () => {
  if (!env) return; // nothing to set up: each test fails on needSandbox()
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await put(MARKED, MARKED_BODY);
  await put(OTHER, randomBytes(3000));
  await put(THIRD, randomBytes(2000));
  const { minio } = env;
  fleet = await makeFleet([{
    node: 'files1',
    roles: { files: { store: 's3', endpoint: minio.endpoint, bucket: BUCKET, region: minio.region, accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey, forcePathStyle: true, concurrency: 2 } },
  }]);
  ops = await encryptFleet(fleet);
  other = await writeNewIdentityFile(join(fleet.dir, 'keys-other'));
  await startFleet(fleet);
});

test.after(async () => {
  if (fleet) await removeFleet(fleet);
  if (env) {
    await emptyBucket(BUCKET, true).catch(() => undefined);
    s3.destroy();
  }
});

test('backup of a bucket with mode age: every stored file of the role is an age file; no stored name or byte holds a key or a body', async () => {
  needSandbox(env);
  const b = await runCli(['backup', '--config', fleet!.fleetFile, '--id', ID1]);
  assert.is(b.code, 0, b.stdout + b.stderr);
  const folder = filesFolder(ID1);
  const stored = await filesUnder(folder);
  const names = stored.map((p) => p.slice(folder.length + 1)).sort();
  assert.ok(names.includes('listing.ndjson.age') && !names.includes('listing.ndjson'), names.join(' '));
  const sealed = names.filter((n) => n.startsWith('sealed/'));
  assert.is(sealed.length, 3, names.join(' '));
  assert.ok(sealed.every((n) => /^sealed\/[0-9a-f]{2}\/[0-9a-f]{32}\.age$/.test(n)), sealed.join(' '));
  assert.not.ok(names.some((n) => n.startsWith('s3/')), 'nothing under the objects\' keys');
  for (const file of stored) assert.is(await headOf(file), AGE_HEADER, `${file} is not an age file`);
  // Nothing of the set, the manifest and the set key included, names or holds an object.
  for (const file of await filesUnder(join(fleet!.destDir, ID1))) {
    assert.not.ok(file.includes(MARKER) || file.includes(OTHER) || file.includes(THIRD), `${file}: a stored name holds an object's key`);
    const body = await readFile(file);
    assert.not.ok(body.includes(MARKER), `${file} holds the marked object's key or body`);
    assert.not.ok(body.includes(bodies[OTHER].subarray(0, 64)) || body.includes(bodies[THIRD].subarray(0, 64)), `${file} holds another object's bytes`);
  }
});

test('restore with the fleet\'s identity gives every object back byte for byte', async () => {
  needSandbox(env);
  await emptyBucket(BUCKET);
  assert.equal(await keysOf(BUCKET), [], 'the bucket is empty before the restore');
  const r = await runCli(['restore', ID1, '--config', fleet!.fleetFile, '--yes', '--identity', ops.file]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(await digestsOf(BUCKET), expectedDigests());
});

test('restore --files-bucket and a drill put the objects into a scratch bucket and leave TheHive\'s untouched; the drill removes its bucket', async () => {
  needSandbox(env);
  // The live bucket as at ID1, with one object changed since: a restore into it would put the old one back.
  for (const [k, b] of Object.entries(bodies)) await put(k, b);
  // Not through put(): `bodies` stays the set's content, which the later tests expect.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: THIRD, Body: Buffer.from('written after the set') }));
  const live = await digestsOf(BUCKET);
  const scratch = `${BUCKET}-copy`;
  try {
    const r = await runCli(['restore', ID1, '--config', fleet!.fleetFile, '--yes', '--identity', ops.file, '--files-bucket', scratch]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(await digestsOf(scratch), expectedDigests());
    const refused = await runCli(['restore', ID1, '--config', fleet!.fleetFile, '--yes', '--identity', ops.file, '--files-target', '/var/tmp/tandem-x']);
    assert.is(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /needs a scratch bucket \(--files-bucket NAME\)/);
    const d = await runCli(['drill', ID1, '--config', fleet!.fleetFile, '--identity', ops.file, '--json']);
    assert.is(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stderr, /into bucket drill-/);
    assert.equal(await digestsOf(BUCKET), live, 'TheHive\'s bucket is as it was');
    const drillBuckets = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name ?? '').filter((n) => n.startsWith('drill-'));
    assert.equal(drillBuckets, [], 'the drill removed its bucket');
  } finally {
    await emptyBucket(scratch, true).catch(() => undefined);
  }
});

test('a wrong identity is refused, naming the recipients the set was written for, and puts no object into the bucket', async () => {
  needSandbox(env);
  await emptyBucket(BUCKET);
  const r = await runCli(['restore', ID1, '--config', fleet!.fleetFile, '--yes', '--identity', other.file]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, ops.recipient);
  assert.match(r.stderr, other.recipient, 'it names the identity given');
  assert.equal(await keysOf(BUCKET), []);
});

test('an incremental set after one replaced object stores only its ciphertext; its restore gives back every object', async () => {
  needSandbox(env);
  // The bucket as it was at ID1 (the wrong-identity test left it empty): the same bodies have the same
  // ETags (a single-part upload's is its MD5), so the parent's entries match; then one object replaced.
  for (const [k, b] of Object.entries(bodies)) await put(k, b);
  await put(OTHER, randomBytes(3100));
  const b = await runCli(['backup', '--config', fleet!.fleetFile, '--id', ID2, '--json']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.is(JSON.parse(b.stdout).parent, ID1);
  const sealed = await filesUnder(join(filesFolder(ID2), 'sealed'));
  assert.is(sealed.length, 1, sealed.join(' '));
  for (const file of await filesUnder(filesFolder(ID2))) assert.is(await headOf(file), AGE_HEADER, `${file} is not an age file`);
  const show = await runCli(['show', ID2, '--config', fleet!.fleetFile, '--json']);
  assert.is(show.code, 0, show.stderr);
  const part = JSON.parse(show.stdout).nodes[0].parts.files as { fileCount: number; referenced?: { files: number }; storedIn?: string[] };
  assert.equal([part.fileCount, part.referenced?.files, part.storedIn], [1, 2, [ID1]]);
  await emptyBucket(BUCKET);
  const r = await runCli(['restore', ID2, '--config', fleet!.fleetFile, '--yes', '--identity', ops.file]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(await digestsOf(BUCKET), expectedDigests(), 'the replaced object from this set, the two unchanged from the parent');
});

test.run();
