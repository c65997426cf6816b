/**
 * Settings of the files role (agent.yaml `roles.files`): TheHive's attachments on a local/NFS
 * folder or in an S3 bucket. `theHiveConfig` fills what is not given; explicit settings win.
 */
import { z } from 'zod';
import { captureCluster, captureDestination, captureRecipients } from '../../../shared/config/capture';
import { absolutePath } from '../../../shared/config/common';
import { bucketNameProblem } from '../../../shared/destination/config';
import { ConfigError } from '../../../shared/errors';
import { readTheHiveConf, type TheHiveConf } from '../thehive-conf';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const bucket = z.string().superRefine((b, ctx) => {
  const why = bucketNameProblem(b);
  if (why) ctx.addIssue({ code: 'custom', message: `bucket ${JSON.stringify(b)}: ${why}` });
});

const common = {
  /** TheHive's application.conf, read at start-up for storage.* defaults. */
  theHiveConfig: absolutePath.optional(),
  /** Files copied at once during ship; default 4. */
  concurrency: z.int().min(1).max(32).default(4),
  /**
   * Folders a restore may write into: `restore --files-target <folder>` (and a drill's
   * `--scratch-dir`) must name one of these or a folder inside one; with `--files-clean` every
   * file there the backup does not hold is removed. Default: the folder store's own location and
   * the drill's default scratch folder /var/tmp/tandem-drill (an s3 store: that folder only).
   */
  restoreTargets: z.array(absolutePath.refine((p) => p !== '/', 'must not be /')).max(64).optional(),
};

/**
 * The continuous capture of the folder store for point-in-time recovery (docs/point-in-time.md):
 * every new or changed attachment copied to the destination, every removal journaled; off by
 * default. A bucket store has none.
 */
export const filesCaptureSettings = z
  .strictObject({
    /** Capture the folder continuously; default false. */
    enabled: z.boolean().default(false),
    /** Milliseconds between two walks of the folder when no change wakes the capture sooner; default 10 000 (1 000 to 600 000). */
    intervalMs: z.number().int().min(1000).max(600_000).default(10_000),
    cluster: captureCluster,
    destination: captureDestination.optional(),
    recipients: captureRecipients,
  })
  .refine((c) => !c.enabled || c.destination !== undefined, { message: 'capture.enabled needs capture.destination: where the copies go (the fleet\'s destination, as in tandem.yaml)', path: ['destination'] });

/** The validated settings of the folder store's capture. */
export type FilesCaptureSettings = z.output<typeof filesCaptureSettings>;

/** Attachments in a folder (TheHive's storage.provider = localfs). */
export const localfsSettings = z.strictObject({
  store: z.literal('localfs'),
  /** The folder; default storage.localfs.location from theHiveConfig, else /opt/thp/thehive/files. */
  location: absolutePath.optional(),
  /** The continuous capture of the folder (point-in-time recovery); off by default. */
  capture: filesCaptureSettings.optional(),
  ...common,
});

/** Attachments in a bucket (TheHive's storage.provider = s3: MinIO, SeaweedFS, AWS). */
export const s3StoreSettings = z
  .strictObject({
    store: z.literal('s3'),
    /** Service URL; default storage.s3.endpoint-url from theHiveConfig, else AWS's. */
    endpoint: z.url({ protocol: /^https?$/, message: 'endpoint must be an http:// or https:// URL' }).optional(),
    /** The bucket; required unless theHiveConfig names it. */
    bucket: bucket.optional(),
    /** Region; default theHiveConfig's, else us-east-1. */
    region: z.string().min(1).optional(),
    /** Access key id (or accessKeyIdEnv); default theHiveConfig's, else the SDK's credential chain. */
    accessKeyId: z.string().min(1).optional(),
    /** Secret access key (prefer secretAccessKeyEnv). */
    secretAccessKey: z.string().min(1).optional(),
    /** Environment variable holding the access key id. */
    accessKeyIdEnv: envName.optional(),
    /** Environment variable holding the secret access key. */
    secretAccessKeyEnv: envName.optional(),
    /** Path-style URLs (MinIO, SeaweedFS); default true, or theHiveConfig's access-style. */
    forcePathStyle: z.boolean().optional(),
    ...common,
  })
  .refine((s) => !(s.accessKeyId && s.accessKeyIdEnv) && !(s.secretAccessKey && s.secretAccessKeyEnv), 'give a key or its *Env variable, not both')
  .refine((s) => s.bucket !== undefined || s.theHiveConfig !== undefined, { message: 'bucket is required (or theHiveConfig naming storage.s3.bucket)', path: ['bucket'] });

/** The default `tandem drill --scratch-dir`, allowed as a restore target unless restoreTargets says otherwise. */
export const DRILL_SCRATCH_DIR = '/var/tmp/tandem-drill';

/** The files role's settings schema. */
export const filesSettings = z.discriminatedUnion('store', [localfsSettings, s3StoreSettings]);

/** Validated settings as written. */
export type FilesSettings = z.output<typeof filesSettings>;

/** Resolved folder store. */
export interface ResolvedLocalfs {
  store: 'localfs';
  location: string;
  concurrency: number;
  /** Folders `--files-target` may name (or be inside). */
  restoreTargets: string[];
  /** storage.provider from theHiveConfig, to catch backing up the store TheHive does not use. */
  theHiveProvider?: string;
}

/** Resolved bucket store. */
export interface ResolvedS3Store {
  store: 's3';
  endpoint?: string;
  bucket: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Env variables are read at use, so a missing one is a preflight failure rather than a crash at start-up. */
  accessKeyIdEnv?: string;
  secretAccessKeyEnv?: string;
  concurrency: number;
  /** Folders `--files-target` may name (or be inside). */
  restoreTargets: string[];
  theHiveProvider?: string;
}

/** Resolved settings. */
export type ResolvedFilesSettings = ResolvedLocalfs | ResolvedS3Store;

/** Applies theHiveConfig (read now) and built-in defaults; ConfigError when the result is incomplete. */
export function resolveFilesSettings(s: FilesSettings): ResolvedFilesSettings {
  const conf: TheHiveConf['storage'] | undefined = s.theHiveConfig ? readTheHiveConf(s.theHiveConfig).storage : undefined;
  if (s.store === 'localfs') {
    const location = s.location ?? conf?.localfsLocation ?? '/opt/thp/thehive/files';
    if (!absolutePath.safeParse(location).success) throw new ConfigError(`${s.theHiveConfig}: storage.localfs.location ${JSON.stringify(location)} is not an absolute path`);
    return { store: 'localfs', location, concurrency: s.concurrency, restoreTargets: s.restoreTargets ?? [location, DRILL_SCRATCH_DIR], theHiveProvider: conf?.provider };
  }
  const c = conf?.s3;
  const b = s.bucket ?? c?.bucket;
  if (!b) throw new ConfigError(`files.bucket is not set and ${s.theHiveConfig} has no storage.s3.bucket`);
  const why = bucketNameProblem(b);
  if (why) throw new ConfigError(`bucket ${JSON.stringify(b)} from ${s.theHiveConfig}: ${why}`);
  // Literal keys from this file win; the application.conf pair is used only when neither literal nor env is set here.
  const useConf = !s.accessKeyId && !s.accessKeyIdEnv && !s.secretAccessKey && !s.secretAccessKeyEnv && c?.accessKeyId && c?.secretAccessKey;
  return {
    store: 's3',
    endpoint: s.endpoint ?? c?.endpoint,
    bucket: b,
    region: s.region ?? c?.region ?? 'us-east-1',
    forcePathStyle: s.forcePathStyle ?? (c?.accessStyle ? c.accessStyle === 'path' : true),
    accessKeyId: useConf ? c!.accessKeyId : s.accessKeyId,
    secretAccessKey: useConf ? c!.secretAccessKey : s.secretAccessKey,
    accessKeyIdEnv: s.accessKeyIdEnv,
    secretAccessKeyEnv: s.secretAccessKeyEnv,
    concurrency: s.concurrency,
    restoreTargets: s.restoreTargets ?? [DRILL_SCRATCH_DIR],
    theHiveProvider: conf?.provider,
  };
}
