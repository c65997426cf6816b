/**
 * Large client libraries loaded the first time something needs them, not at start: an agent
 * whose roles and destination never speak to S3, Elasticsearch or CQL does not carry them. Each
 * costs 18–30 MB of resident memory and 0.2–0.5 s of start-up once loaded (the AWS SDK,
 * @elastic/elasticsearch, cassandra-driver), which an idle agent paid for all three.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type * as S3Storage from '@aws-sdk/lib-storage';

/** A module loader that requires it once, on the first call. */
export function lazyModule<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}

/* eslint-disable @typescript-eslint/no-require-imports */
/** @aws-sdk/client-s3: S3 destinations and bucket file stores. */
export const s3Sdk = lazyModule(() => require('@aws-sdk/client-s3') as typeof S3Sdk);
/** @aws-sdk/lib-storage: multipart streaming uploads to S3. */
export const s3Storage = lazyModule(() => require('@aws-sdk/lib-storage') as typeof S3Storage);
