/**
 * A destination in an S3 bucket (AWS or compatible: MinIO, Ceph RGW). Objects become visible
 * only when a PUT or a multipart upload completes, so there are no temporary names; streams are
 * uploaded in parts, several at once, without knowing their size in advance.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk, s3Storage } from '../lazy-module';
import { ConfigError, NotFoundError, PreconditionError, TandemError, ValidationError, errorMessage } from '../errors';
import { AlreadyExistsError, VersionMismatchError, type Versioned } from './conditional';
import type { S3DestinationConfig } from './config';
import { byteCounter } from './local';
import { isHiddenRelPath, relPathProblem, safeRelPath, safeRelPrefix } from './paths';
import { checkCap, readCapped, tooLarge } from './read';
import type { Destination, DestinationEntry, PutOptions, PutResult } from './types';

/** An S3 key pair. */
export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary keys' session token. */
  sessionToken?: string;
}

/** Reads credentials from the config or the environment variables it names; undefined = SDK default chain. */
export function s3Credentials(c: S3DestinationConfig, env: NodeJS.ProcessEnv = process.env): S3Keys | undefined {
  const pick = (literal: string | undefined, envName: string | undefined, what: string) => {
    if (literal !== undefined) return literal;
    if (envName === undefined) return undefined;
    const v = env[envName];
    if (!v) throw new ConfigError(`environment variable ${envName} (the S3 ${what}) is not set or empty`);
    return v;
  };
  const accessKeyId = pick(c.accessKeyId, c.accessKeyIdEnv, 'access key id');
  const secretAccessKey = pick(c.secretAccessKey, c.secretAccessKeyEnv, 'secret access key');
  return accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined;
}

/** Where an S3 destination's keys come from, for the one who opens it. */
export interface S3Access {
  /** The keys, or what reads them at the first request; undefined = the AWS SDK's default chain (AWS_* variables, shared files, instance role). */
  credentials?: S3Keys | (() => Promise<S3Keys>);
  /** What to set when no keys are found, in the opener's own words (its config file's keys). */
  noCredentialsHint?: string;
}

/** The coordinator's hint: its keys come from the fleet file or its own environment. */
export const FLEET_CREDENTIALS_HINT =
  'set destination.accessKeyIdEnv and destination.secretAccessKeyEnv in the fleet file (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment of tandem), or give the host an instance role';

/** True for the SDK's error when its default chain found no keys anywhere. */
function noCredentialsFound(err: unknown): boolean {
  return (err as Error)?.name === 'CredentialsProviderError';
}

/** HTTP status of an SDK error, if any. */
function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** True for S3's answer to a conditional write whose condition did not hold (412), or that raced another (409). */
function conditionFailed(err: unknown): boolean {
  const name = (err as Error)?.name;
  return httpStatus(err) === 412 || httpStatus(err) === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict';
}

/** Destination in an S3 bucket under an optional key prefix. */
export class S3Destination implements Destination {
  /** The SDK client (exposed for tests and diagnostics). */
  readonly client: S3Client;
  private readonly base: string;

  /** `access` defaults to the keys the config names (the fleet file's, read by the coordinator). */
  constructor(private readonly config: S3DestinationConfig, access: S3Access = { credentials: s3Credentials(config) }, client?: S3Client) {
    this.base = config.prefix ? `${config.prefix}/` : '';
    this.client =
      client ??
      new (s3Sdk().S3Client)({
        endpoint: config.endpoint,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        credentials: access.credentials,
        // lib-storage retries parts; the SDK retries each request with backoff on top.
        maxAttempts: 5,
      });
    const hint = access.noCredentialsHint ?? FLEET_CREDENTIALS_HINT;
    const where = this.describe();
    // Every request (lib-storage's parts too) passes here: the SDK's "Could not load credentials
    // from any providers" becomes one message that says which keys to set, wherever it happens.
    this.client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          if (noCredentialsFound(err)) throw new ConfigError(`${where}: no S3 credentials found: ${hint}`, { destination: where }, { cause: err });
          throw err;
        }
      },
      { step: 'initialize', name: 'tandemNoCredentialsHint', override: true },
    );
  }

  describe(): string {
    return `s3://${this.config.bucket}/${this.base} at ${this.config.endpoint}`;
  }

  private key(relPath: string): string {
    return this.base + safeRelPath(relPath);
  }

  async put(relPath: string, source: string | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const Key = this.key(relPath);
    const counter = byteCounter();
    const input = typeof source === 'string' ? createReadStream(source) : source;
    const upload = new (s3Storage().Upload)({
      client: this.client,
      params: { Bucket: this.config.bucket, Key, Body: counter },
      queueSize: this.config.queueSize,
      partSize: this.config.partSizeMiB * 1024 * 1024,
      // On failure, abort the multipart upload so its parts do not linger (and cost) in the bucket.
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Each side stops the other on failure, so neither a stalled read nor a dangling upload is left.
      const piping = pipeline(input, counter, { signal: opts.signal }).catch((err) => {
        void upload.abort();
        throw err;
      });
      const uploading = upload.done().catch((err) => {
        counter.destroy(err);
        throw err;
      });
      const [, done] = await Promise.all([piping, uploading]);
      if (opts.size !== undefined && counter.bytes !== opts.size) {
        // S3 has no rename: the object is already visible, so take it back.
        await this.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket: this.config.bucket, Key }));
        throw new ValidationError(`upload of ${relPath} had ${counter.bytes} bytes, expected ${opts.size}`, { path: relPath });
      }
      return { size: counter.bytes, etag: done.ETag };
    } catch (err) {
      // An abort is the caller's doing: hand back its reason, not a wrapped failure.
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      throw err instanceof TandemError ? err : new TandemError(`upload of ${relPath} to ${this.describe()} failed: ${errorMessage(err)}`, { path: relPath }, { cause: err });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(relPath: string): Promise<Readable> {
    try {
      const r = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.config.bucket, Key: this.key(relPath) }));
      return r.Body as Readable;
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey' || httpStatus(err) === 404)
        throw new NotFoundError(`${relPath} does not exist in ${this.describe()}`, { path: relPath }, { cause: err });
      throw err;
    }
  }

  async readSmall(relPath: string, maxBytes: number): Promise<Buffer> {
    checkCap(maxBytes);
    const Bucket = this.config.bucket;
    const Key = this.key(relPath);
    const head = await this.stat(relPath);
    if (!head) throw new NotFoundError(`${relPath} does not exist in ${this.describe()}`, { path: relPath });
    if (head.size > maxBytes) throw tooLarge(relPath, this.describe(), maxBytes);
    // The object may be replaced between the HEAD and the GET: the range asks for one byte past
    // the cap, and the read stops there whatever the server sends.
    try {
      const r = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket, Key, Range: `bytes=0-${maxBytes}` }));
      return await readCapped(r.Body as Readable, maxBytes, relPath, this.describe());
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey' || httpStatus(err) === 404)
        throw new NotFoundError(`${relPath} does not exist in ${this.describe()}`, { path: relPath }, { cause: err });
      // An empty object has no byte 0: a range over it is refused (416), and it is simply empty.
      if (httpStatus(err) === 416 || (err as Error).name === 'InvalidRange') return Buffer.alloc(0);
      throw err;
    }
  }

  async stat(relPath: string): Promise<{ size: number } | null> {
    try {
      const r = await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: this.config.bucket, Key: this.key(relPath) }));
      return { size: r.ContentLength ?? 0 };
    } catch (err) {
      if (httpStatus(err) === 404 || (err as Error).name === 'NotFound') return null;
      throw err;
    }
  }

  /** Every key under the folder `rel` (or the whole base), paginated. */
  private async *keys(rel: string): AsyncGenerator<{ key: string; size: number; modifiedMs?: number }> {
    const Prefix = rel ? `${this.base}${rel}/` : this.base;
    let ContinuationToken: string | undefined;
    do {
      const r = await this.client.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: this.config.bucket, Prefix, ContinuationToken }));
      for (const o of r.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() };
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async list(prefix: string): Promise<DestinationEntry[]> {
    const rel = safeRelPrefix(prefix);
    const out: DestinationEntry[] = [];
    for await (const { key, size } of this.keys(rel)) {
      const path = key.slice(this.base.length);
      // Keys we could not have written (probes, foreign objects) are not backup files.
      if (isHiddenRelPath(path) || relPathProblem(path)) continue;
      out.push({ path, size });
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async folders(prefix: string): Promise<string[]> {
    const rel = safeRelPrefix(prefix);
    const Prefix = rel ? `${this.base}${rel}/` : this.base;
    const out: string[] = [];
    let ContinuationToken: string | undefined;
    // The delimiter makes S3 return one common prefix per folder instead of every key below it.
    do {
      const r = await this.client.send(new (s3Sdk().ListObjectsV2Command)({ Bucket: this.config.bucket, Prefix, Delimiter: '/', ContinuationToken }));
      for (const p of r.CommonPrefixes ?? []) {
        const name = p.Prefix?.slice(Prefix.length).replace(/\/$/, '');
        if (name && !isHiddenRelPath(name) && !relPathProblem(name)) out.push(name);
      }
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out.sort();
  }

  async newestChange(prefix: string): Promise<number | null> {
    let newest: number | null = null;
    // Objects appear whole when their upload completes: LastModified is when that happened.
    for await (const { modifiedMs } of this.keys(safeRelPrefix(prefix))) if (modifiedMs !== undefined && (newest === null || modifiedMs > newest)) newest = modifiedMs;
    return newest;
  }

  async remove(prefix: string): Promise<void> {
    const rel = safeRelPrefix(prefix);
    if (rel === '') throw new ValidationError('refusing to remove the whole destination root', { path: prefix });
    // The object named exactly `rel` (a file), then everything under `rel/` (a folder).
    const batch: string[] = [this.base + rel];
    const flush = async () => {
      if (batch.length === 0) return;
      const r = await this.client.send(
        new (s3Sdk().DeleteObjectsCommand)({ Bucket: this.config.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      if (r.Errors?.length) throw new TandemError(`could not delete ${r.Errors.length} objects under ${rel} in ${this.describe()}: ${r.Errors[0].Key}: ${r.Errors[0].Message}`);
      batch.length = 0;
    };
    // Keys are collected first, then deleted: deleting while paginating could skip keys.
    const all: string[] = [];
    for await (const { key } of this.keys(rel)) all.push(key);
    for (const k of all) {
      batch.push(k);
      if (batch.length === 1000) await flush(); // DeleteObjects takes at most 1000 keys
    }
    await flush();
    await this.abortUploads(rel);
  }

  /**
   * The multipart uploads in progress under `rel/`. MinIO answers ListMultipartUploads with a
   * prefix only for an exact object key, and lists every upload of the bucket for an empty one:
   * so when the prefix finds none, the bucket's whole list is read and filtered here (on AWS S3
   * the prefix works and the second listing finds nothing more).
   */
  async uploadsUnder(rel: string): Promise<{ Key: string; UploadId: string }[]> {
    const Prefix = `${this.base}${rel}/`;
    const list = async (prefix: string) => {
      const out: { Key: string; UploadId: string }[] = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      do {
        const r = await this.client.send(new (s3Sdk().ListMultipartUploadsCommand)({ Bucket: this.config.bucket, Prefix: prefix || undefined, KeyMarker, UploadIdMarker }));
        for (const u of r.Uploads ?? []) if (u.Key?.startsWith(Prefix) && u.UploadId) out.push({ Key: u.Key, UploadId: u.UploadId });
        [KeyMarker, UploadIdMarker] = r.IsTruncated ? [r.NextKeyMarker, r.NextUploadIdMarker] : [undefined, undefined];
      } while (KeyMarker);
      return out;
    };
    const found = await list(Prefix);
    return found.length ? found : list('');
  }

  /**
   * Aborts the multipart uploads in progress under `rel/`: an upload cut off with its server
   * (a crash, MinIO killed) keeps its parts, which are no object and no listing shows, until
   * someone aborts it; removing a set's folder is when that is done.
   */
  private async abortUploads(rel: string): Promise<void> {
    const uploads = await this.uploadsUnder(rel);
    for (const u of uploads) {
      try {
        await this.client.send(new (s3Sdk().AbortMultipartUploadCommand)({ Bucket: this.config.bucket, ...u }));
      } catch (err) {
        // Gone already (its own abort, or another remover got there first): nothing is left of it.
        if ((err as Error).name !== 'NoSuchUpload' && httpStatus(err) !== 404) throw err;
      }
    }
  }

  async writeAtomic(relPath: string, data: Buffer | string): Promise<void> {
    // A single PUT replaces the object atomically.
    await this.client.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.config.bucket, Key: this.key(relPath), Body: Buffer.from(data) }));
  }

  async readVersioned(relPath: string, maxBytes: number): Promise<Versioned | null> {
    checkCap(maxBytes);
    try {
      // One GET: its ETag and its body are of the same version (a HEAD then a GET might not be).
      const r = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.config.bucket, Key: this.key(relPath) }));
      const body = r.Body as Readable;
      if ((r.ContentLength ?? 0) > maxBytes) {
        body.destroy();
        throw tooLarge(relPath, this.describe(), maxBytes);
      }
      if (!r.ETag) throw new TandemError(`${this.describe()} returned no ETag for ${relPath}: this S3 service cannot hold tandem's lock`, { path: relPath });
      return { data: await readCapped(body, maxBytes, relPath, this.describe()), version: r.ETag };
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey' || httpStatus(err) === 404) return null;
      throw err;
    }
  }

  /** PutObject with If-None-Match: *, which AWS S3 (since 2024) and MinIO answer with 412 when the key exists. */
  async createExclusive(relPath: string, data: Buffer | string): Promise<string> {
    try {
      const r = await this.client.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.config.bucket, Key: this.key(relPath), Body: Buffer.from(data), IfNoneMatch: '*' }));
      return this.etagOf(r.ETag, relPath);
    } catch (err) {
      // 409: another conditional write of this key is in flight; it wins or fails, this one did not create.
      if (conditionFailed(err)) throw new AlreadyExistsError(`${this.describe()}: ${relPath} exists`, { path: relPath }, { cause: err });
      throw err;
    }
  }

  /** PutObject with If-Match: the ETag read; 412 when the object changed, 404 when it is gone. */
  async replaceIf(relPath: string, data: Buffer | string, expectedVersion: string): Promise<string> {
    try {
      const r = await this.client.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.config.bucket, Key: this.key(relPath), Body: Buffer.from(data), IfMatch: expectedVersion }));
      return this.etagOf(r.ETag, relPath);
    } catch (err) {
      if (conditionFailed(err) || httpStatus(err) === 404 || (err as Error).name === 'NoSuchKey')
        throw new VersionMismatchError(`${this.describe()}: ${relPath} was not replaced: it changed since it was read, or is gone`, { path: relPath }, { cause: err });
      throw err;
    }
  }

  private etagOf(etag: string | undefined, relPath: string): string {
    if (!etag) throw new TandemError(`${this.describe()} returned no ETag for ${relPath}: this S3 service cannot hold tandem's lock`, { path: relPath });
    return etag;
  }

  async checkWritable(): Promise<void> {
    const Bucket = this.config.bucket;
    try {
      await this.client.send(new (s3Sdk().HeadBucketCommand)({ Bucket }));
    } catch (err) {
      // Missing or unreadable keys: that message already says what to set.
      if (err instanceof ConfigError) throw err;
      const status = httpStatus(err);
      const hint =
        status === 404
          ? `bucket ${Bucket} does not exist: create it`
          : status === 403 || status === 401
            ? `access to bucket ${Bucket} is denied: check the access keys and the bucket policy`
            : status === 301 || status === 400
              ? `the bucket is in another region or the endpoint is wrong: check region (${this.config.region}) and endpoint`
              : `cannot reach ${this.config.endpoint}: check the endpoint URL and that the service is up`;
      throw new PreconditionError(`${this.describe()}: ${hint} (${errorMessage(err) || (err as Error).name})`, { destination: this.describe() }, { cause: err });
    }
    const Key = `${this.base}.tandem-probe-${randomBytes(6).toString('hex')}`;
    try {
      await this.client.send(new (s3Sdk().PutObjectCommand)({ Bucket, Key, Body: 'tandem write probe\n' }));
    } catch (err) {
      throw new PreconditionError(`${this.describe()}: cannot write (${errorMessage(err) || (err as Error).name}): grant s3:PutObject and s3:DeleteObject on the bucket to these keys`, { destination: this.describe() }, { cause: err });
    }
    try {
      await this.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket, Key }));
    } catch (err) {
      throw new PreconditionError(`${this.describe()}: can write but not delete (${errorMessage(err)}): grant s3:DeleteObject, needed to remove old backups`, { destination: this.describe() }, { cause: err });
    }
  }
}
