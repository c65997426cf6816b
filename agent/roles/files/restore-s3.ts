/**
 * Restore of the bucket store: every listed object is copied back from the set storing it into the
 * bucket (or option files_bucket for a drill). Each object is staged in workDir and its sha256
 * checked before PutObject, so a damaged backup never overwrites a good object.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { attachmentSource } from '../../../shared/encrypted-set';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from '../../../shared/lazy-module';
import { HashingPassThrough } from '../../archive/checksum';
import { ValidationError } from '../../../shared/errors';
import type { ListedObject } from '../../../shared/parts/files';
import type { PhaseOutcome, RestoreContext } from '../role';
import { runPool } from '../../../shared/pool';
import { progressReporter } from './copy';

/** An object as the listing records it. */
/** Where to restore. */
export interface BucketTarget {
  /** Where a listed object's bytes are at the destination (attachmentPath). */
  from: (o: ListedObject) => string;
  bucket: string;
  concurrency: number;
}

const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** Creates the drill bucket when missing (the live bucket must already exist). */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new (s3Sdk().HeadBucketCommand)({ Bucket: bucket }));
  } catch (err) {
    if (status(err) !== 404) throw err;
    await client.send(new (s3Sdk().CreateBucketCommand)({ Bucket: bucket }));
  }
}

/** Copies every listed object into the bucket (load phase); an object already there with the same size and ETag is skipped. */
export async function loadBucket(ctx: RestoreContext, client: S3Client, t: BucketTarget, objects: ListedObject[]) {
  const stage = join(ctx.workDir, 'staging');
  await fs.mkdir(stage, { recursive: true });
  let bytes = 0;
  let skipped = 0;
  let n = 0;
  const progress = progressReporter(ctx, objects.length, objects.reduce((a, o) => a + o.size, 0), 'load');
  await runPool(objects, t.concurrency, ctx.signal, async (o) => {
    const head = await client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: t.bucket, Key: o.key }), { abortSignal: ctx.signal }).catch((err) => {
      if (status(err) === 404) return null;
      throw err;
    });
    if (head && head.ContentLength === o.size && o.etag && head.ETag === o.etag) {
      skipped++;
      return progress.add(o.size);
    }
    const tmp = join(stage, `${n++}.partial`);
    const hasher = new HashingPassThrough();
    try {
      await pipeline(await attachmentSource(ctx.destination, t.from(o), o), hasher, createWriteStream(tmp), { signal: ctx.signal });
      const got = hasher.digest();
      if (hasher.bytes !== o.size || (o.sha256 && got !== o.sha256)) {
        throw new ValidationError(`files: object ${o.key} at the destination does not match the backup listing (sha256 ${got}, ${hasher.bytes} bytes; expected sha256 ${o.sha256}, ${o.size} bytes): the backup set is damaged`, { key: o.key });
      }
      await client.send(new (s3Sdk().PutObjectCommand)({ Bucket: t.bucket, Key: o.key, Body: createReadStream(tmp), ContentLength: o.size }), { abortSignal: ctx.signal });
    } finally {
      await fs.rm(tmp, { force: true });
    }
    bytes += o.size;
    progress.add(o.size);
  });
  return { detail: `${objects.length} objects into bucket ${t.bucket} (${bytes} bytes copied, ${skipped} already there)` } satisfies PhaseOutcome;
}

/** Reads every listed object back and checks its size and sha256. */
export async function verifyBucket(ctx: RestoreContext, client: S3Client, t: BucketTarget, objects: ListedObject[]) {
  const problems: string[] = [];
  let bytes = 0;
  await runPool(objects, t.concurrency, ctx.signal, async (o) => {
    let body: Readable;
    try {
      body = (await client.send(new (s3Sdk().GetObjectCommand)({ Bucket: t.bucket, Key: o.key }), { abortSignal: ctx.signal })).Body as Readable;
    } catch (err) {
      if (status(err) === 404) return void problems.push(`${o.key}: missing`);
      throw err;
    }
    const hasher = new HashingPassThrough();
    // Read back and hash only: the bytes go nowhere.
    await pipeline(body, hasher, async (src: AsyncIterable<Buffer>) => {
      for await (const _chunk of src);
    });
    if (hasher.bytes !== o.size) return void problems.push(`${o.key}: ${hasher.bytes} bytes, expected ${o.size}`);
    if (o.sha256 && hasher.digest() !== o.sha256) return void problems.push(`${o.key}: sha256 differs`);
    bytes += hasher.bytes;
  });
  problems.sort();
  return { ok: problems.length === 0, problems: problems.slice(0, 50), problemCount: problems.length, files: { files: objects.length, bytes, extraCount: 0, extraFirst: [] } } satisfies PhaseOutcome;
}

/** Deletes the listed objects from a drill bucket (drop_scratch=true); the bucket itself is left. */
export async function dropObjects(ctx: RestoreContext, client: S3Client, bucket: string, objects: ListedObject[]) {
  await runPool(objects, 4, ctx.signal, async (o) => {
    await client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket: bucket, Key: o.key }), { abortSignal: ctx.signal });
  });
  // The drill's own bucket goes too; one holding other objects (someone else's) is left, and said so.
  const left = await client.send(new (s3Sdk().DeleteBucketCommand)({ Bucket: bucket }), { abortSignal: ctx.signal }).then(() => '', (err: Error) => `; the bucket itself is left (${err.name}: ${err.message})`);
  return { detail: `deleted ${objects.length} objects from bucket ${bucket}${left}` } satisfies PhaseOutcome;
}
