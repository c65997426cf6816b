/**
 * The bucket store (storage.provider = s3). The cut is the bucket's listing (key, size, ETag) at
 * commit; ship copies each object with GetObject If-Match on the cut's ETag, so an object
 * replaced since the cut is reported as changed instead of being copied silently.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from '../../../shared/lazy-module';
import { attachmentProblem } from '../../../shared/destination/layout';
import { ConfigError } from '../../../shared/errors';
import type { RoleContext } from '../role';
import type { ResolvedS3Store } from './config';
import { runPool } from '../../../shared/pool';
import { attachmentTarget, progressReporter, putHashed, type StoredFile, type Unstorable } from './copy';

/** One object of the cut. */
export interface CutObject {
  key: string;
  size: number;
  etag: string;
  lastModified?: number;
}

/** The bucket listing taken at commit. */
export interface S3Cut {
  store: 's3';
  bucket: string;
  endpoint?: string;
  cutAt: number;
  objects: CutObject[];
}

/** Builds the client; reads *Env credentials now (ConfigError if one is unset). */
export function storeClient(r: ResolvedS3Store, env: NodeJS.ProcessEnv = process.env): S3Client {
  const pick = (literal: string | undefined, name: string | undefined, what: string) => {
    if (literal !== undefined || name === undefined) return literal;
    const v = env[name];
    if (!v) throw new ConfigError(`environment variable ${name} (the files bucket's ${what}) is not set or empty`);
    return v;
  };
  const accessKeyId = pick(r.accessKeyId, r.accessKeyIdEnv, 'access key id');
  const secretAccessKey = pick(r.secretAccessKey, r.secretAccessKeyEnv, 'secret access key');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw new ConfigError('files: give both the access key id and the secret access key, or neither');
  return new (s3Sdk().S3Client)({
    endpoint: r.endpoint,
    region: r.region,
    forcePathStyle: r.forcePathStyle,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    maxAttempts: 5,
  });
}

/** Read-only check: the bucket exists and can be listed; null when fine. */
export async function checkBucket(client: S3Client, bucket: string, signal?: AbortSignal): Promise<string | null> {
  try {
    await client.send(new (s3Sdk().HeadBucketCommand)({ Bucket: bucket }), { abortSignal: signal });
    await client.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: bucket, MaxKeys: 1 }), { abortSignal: signal });
    return null;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return `bucket ${bucket} does not exist`;
    if (status === 403) return `access to bucket ${bucket} denied; check the keys and the policy (ListBucket, GetObject)`;
    return `bucket ${bucket}: ${(err as Error).name}: ${(err as Error).message}`;
  }
}

/** Lists every object of the bucket (all pages), sorted by key. */
export async function listBucket(client: S3Client, bucket: string, signal: AbortSignal): Promise<CutObject[]> {
  const out: CutObject[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: bucket, ContinuationToken: token }), { abortSignal: signal });
    for (const o of r.Contents ?? []) {
      if (o.Key === undefined) continue;
      out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified?.getTime() });
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** What copyBucket did. */
export interface S3CopyResult {
  stored: (StoredFile & { key: string })[];
  changed: { path: string; cut: { size: number; etag: string } }[];
  missing: string[];
  unstorable: Unstorable[];
}

/** Copies every object of the cut to `<id>/<node>/files/s3/<key>`, hashing while copying. */
export async function copyBucket(ctx: RoleContext, client: S3Client, cut: S3Cut, concurrency: number): Promise<S3CopyResult> {
  const out: S3CopyResult = { stored: [], changed: [], missing: [], unstorable: [] };
  const progress = progressReporter(ctx, cut.objects.length, cut.objects.reduce((a, o) => a + o.size, 0));
  await runPool(cut.objects, concurrency, ctx.signal, async (o) => {
    const why = attachmentProblem(ctx.backupId, ctx.node, 's3', o.key);
    if (why) {
      out.unstorable.push({ path: o.key, reason: why });
      return progress.add(0);
    }
    const { path: dest, sealedName } = attachmentTarget(ctx.destination, ctx.backupId, ctx.node, 's3', o.key);
    let body: Readable;
    try {
      // If-Match pins the object to the cut: a replaced object answers 412 instead of new bytes.
      const r = await client.send(new (s3Sdk().GetObjectCommand)({ Bucket: cut.bucket, Key: o.key, IfMatch: o.etag || undefined }), { abortSignal: ctx.signal });
      body = r.Body as Readable;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) out.missing.push(o.key);
      else if (status === 412) out.changed.push({ path: o.key, cut: { size: o.size, etag: o.etag } });
      else throw err;
      return progress.add(0);
    }
    // A second attempt reads the object again, still pinned to the cut's ETag.
    const again = async () => (await client.send(new (s3Sdk().GetObjectCommand)({ Bucket: cut.bucket, Key: o.key, IfMatch: o.etag || undefined }), { abortSignal: ctx.signal })).Body as Readable;
    const r = await putHashed(ctx.destination, dest, (attempt) => (attempt === 1 ? body : again()), ctx.signal);
    out.stored.push({ key: o.key, path: dest, size: r.size, sha256: r.sha256, etag: o.etag, ...(r.sealed && sealedName ? { sealed: { name: sealedName, ...r.sealed } } : {}) });
    progress.add(r.size);
  });
  return out;
}
