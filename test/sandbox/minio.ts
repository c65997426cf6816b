/**
 * A real MinIO server on 127.0.0.1:9000 with the buckets `thehive` (TheHive's files when
 * storage.provider=s3) and `tandem-backups` (a backup destination). Buckets are made with the AWS SDK,
 * the same client the S3 destination uses, so the sandbox also proves that client talks to this server.
 */
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { MINIO, sandboxPaths } from './paths';
import { runningPid, startDaemon, waitUntil } from './procs';

export const MINIO_DAEMON = 'minio';

export function s3Client(): S3Client {
  return new S3Client({
    endpoint: MINIO.endpoint,
    region: MINIO.region,
    forcePathStyle: true, // MinIO on an IP address: path-style, as TheHive's storage.s3.access-style=path
    credentials: { accessKeyId: MINIO.accessKey, secretAccessKey: MINIO.secretKey },
  });
}

export async function minioLive(): Promise<boolean> {
  try {
    const res = await fetch(`${MINIO.endpoint}/minio/health/live`, { signal: AbortSignal.timeout(3000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function startMinio(log: (m: string) => void): Promise<void> {
  const p = sandboxPaths();
  if (!existsSync(p.minioBin)) throw new Error(`${p.minioBin} is missing: the install step did not build MinIO`);
  if (runningPid(MINIO_DAEMON) === undefined) {
    const data = path.join(p.minio, 'data');
    mkdirSync(data, { recursive: true });
    const logFile = path.join(p.minio, 'minio.log');
    const t0 = Date.now();
    startDaemon({
      name: MINIO_DAEMON,
      argv: [p.minioBin, 'server', data, '--address', '127.0.0.1:9000', '--console-address', '127.0.0.1:9001', '--quiet'],
      logFile,
      env: {
        MINIO_ROOT_USER: MINIO.accessKey,
        MINIO_ROOT_PASSWORD: MINIO.secretKey,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
        MINIO_CONFIG_ENV_FILE: '/dev/null',
      },
    });
    await waitUntil('minio', minioLive, { timeoutMs: 60_000, daemon: MINIO_DAEMON, logFile });
    log(`minio up on ${MINIO.endpoint} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    log('minio already running');
  }
  const s3 = s3Client();
  try {
    for (const b of [MINIO.filesBucket, MINIO.backupBucket]) await ensureBucket(s3, b);
  } finally {
    s3.destroy();
  }
}
