/**
 * The destination section of the YAML config. Everything here can end up in an argv (rsync, ssh)
 * or in ssh's remote shell command, so strings are checked against tight patterns rather than
 * quoted later: a config that validates cannot inject options or shell syntax.
 */
import { z } from 'zod';
import { ConfigError } from '../errors';
import { absPathProblem, relPathProblem } from './paths';

/** RFC 1123 host name (labels of letters, digits and inner hyphens) or an IPv4 address. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** An IPv6 literal without brackets (hex digits, colons, optional embedded IPv4). */
const IPV6 = /^(?=.*:)[0-9A-Fa-f:.]{2,45}$/;
/** A POSIX-portable login name. */
const USER = /^[A-Za-z_][A-Za-z0-9._-]{0,31}$/;
/** A POSIX environment variable name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A normalized absolute path with no shell metacharacters; `what` names it in messages. */
const absPath = (what: string) =>
  z.string().superRefine((p, ctx) => {
    const why = absPathProblem(p);
    if (why) ctx.addIssue({ code: 'custom', message: `${what} ${JSON.stringify(p)}: ${why}` });
  });

/** The reason `name` breaks the S3 bucket naming rules, or null if it follows them. */
export function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return 'it must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return 'only lowercase letters, digits, "." and "-" are allowed, starting and ending with a letter or digit';
  if (name.includes('..')) return 'it must not contain ".."';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'it must not look like an IP address';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(name)) return 'it uses a prefix or suffix reserved by S3';
  return null;
}

/** A local folder or mounted NFS share. */
export const localDestinationSchema = z.strictObject({
  type: z.literal('local'),
  /** Absolute folder that holds the backup sets; must already exist (an unmounted NFS share is not silently replaced). */
  path: absPath('path'),
});

/** A folder on a remote host reached by rsync over ssh. */
export const rsyncDestinationSchema = z.strictObject({
  type: z.literal('rsync'),
  /** Remote host name, IPv4 or IPv6 address (no brackets). */
  host: z.string().refine((h) => HOSTNAME.test(h) || IPV6.test(h), { message: 'host must be a host name (letters, digits, "-", ".") or an IP address' }),
  /** Remote login name. */
  user: z.string().regex(USER, { message: 'user must be a login name (letters, digits, "_", ".", "-"; not starting with "-")' }),
  /** ssh port; default 22. */
  port: z.int().min(1).max(65535).default(22),
  /** Absolute folder on the remote host that holds the backup sets. */
  path: absPath('path'),
  /** Private key for ssh -i; default: ssh's own (~/.ssh/id_*). */
  identityFile: absPath('identityFile').optional(),
  /** known_hosts file holding the host's key (StrictHostKeyChecking=yes); default: ~/.ssh/known_hosts. */
  knownHostsFile: absPath('knownHostsFile').optional(),
  /** rsync --bwlimit in KiB per second; default: unlimited. */
  bwlimitKBps: z.int().min(1).optional(),
  /** rsync --timeout: seconds without I/O before a transfer is abandoned (and retried); default 300. */
  ioTimeoutSeconds: z.int().min(10).max(86400).default(300),
});

/** A bucket on S3 or an S3-compatible store (MinIO, Ceph RGW, ...). */
export const s3DestinationSchema = z
  .strictObject({
    type: z.literal('s3'),
    /** Service URL, http(s)://host[:port], no path, query or credentials. */
    endpoint: z.url({ protocol: /^https?$/, message: 'endpoint must be an http:// or https:// URL' }).refine(
      (u) => {
        // Refinements run even when the URL check failed: an unparsable URL is reported by that check.
        let url: URL;
        try {
          url = new URL(u);
        } catch {
          return true;
        }
        return !url.username && !url.password && !url.search && !url.hash && (url.pathname === '/' || url.pathname === '');
      },
      { message: 'endpoint must be scheme://host[:port] only (no path, query or user:password; put keys in accessKeyId/secretAccessKey)' },
    ),
    /** Bucket name; must already exist. */
    bucket: z.string().superRefine((b, ctx) => {
      const why = bucketNameProblem(b);
      if (why) ctx.addIssue({ code: 'custom', message: `bucket ${JSON.stringify(b)}: ${why}` });
    }),
    /** Key prefix under which backup sets go, like "tandem/prod" (no leading or trailing "/"); default: bucket root. */
    prefix: z
      .string()
      .superRefine((p, ctx) => {
        const why = relPathProblem(p);
        if (why) ctx.addIssue({ code: 'custom', message: `prefix ${JSON.stringify(p)}: ${why}` });
      })
      .optional(),
    /** Signing region; default 'us-east-1' (what MinIO expects unless configured otherwise). */
    region: z.string().regex(/^[a-z0-9-]{1,32}$/, { message: 'region must be like "us-east-1"' }).default('us-east-1'),
    /** Access key id, literally; default: accessKeyIdEnv, else the AWS SDK's default credential chain. */
    accessKeyId: z.string().min(1).optional(),
    /** Secret access key, literally (prefer secretAccessKeyEnv so secrets stay out of the file). */
    secretAccessKey: z.string().min(1).optional(),
    /** Name of the environment variable holding the access key id. */
    accessKeyIdEnv: z.string().regex(ENV_NAME, { message: 'accessKeyIdEnv must be an environment variable name' }).optional(),
    /** Name of the environment variable holding the secret access key. */
    secretAccessKeyEnv: z.string().regex(ENV_NAME, { message: 'secretAccessKeyEnv must be an environment variable name' }).optional(),
    /** Path-style URLs (endpoint/bucket/key), needed by MinIO; default true. */
    forcePathStyle: z.boolean().default(true),
    /** Parts uploaded in parallel per object; default 4. */
    queueSize: z.int().min(1).max(64).default(4),
    /** Multipart part size in MiB; default 16 (5 to 5120; 10000 parts cap an object at 160 GiB). */
    partSizeMiB: z.int().min(5).max(5120).default(16),
  })
  .superRefine((c, ctx) => {
    if (c.accessKeyId !== undefined && c.accessKeyIdEnv !== undefined)
      ctx.addIssue({ code: 'custom', path: ['accessKeyIdEnv'], message: 'give accessKeyId or accessKeyIdEnv, not both' });
    if (c.secretAccessKey !== undefined && c.secretAccessKeyEnv !== undefined)
      ctx.addIssue({ code: 'custom', path: ['secretAccessKeyEnv'], message: 'give secretAccessKey or secretAccessKeyEnv, not both' });
    const hasId = c.accessKeyId !== undefined || c.accessKeyIdEnv !== undefined;
    const hasSecret = c.secretAccessKey !== undefined || c.secretAccessKeyEnv !== undefined;
    if (hasId !== hasSecret)
      ctx.addIssue({ code: 'custom', path: [hasId ? 'secretAccessKey' : 'accessKeyId'], message: 'give both the access key id and the secret access key, or neither (to use the AWS default credential chain)' });
  });

/** Any destination, chosen by `type`. */
export const destinationConfigSchema = z.discriminatedUnion('type', [localDestinationSchema, rsyncDestinationSchema, s3DestinationSchema]);

/** A validated destination config, defaults applied. */
export type DestinationConfig = z.output<typeof destinationConfigSchema>;
/** The local variant of DestinationConfig. */
export type LocalDestinationConfig = z.output<typeof localDestinationSchema>;
/** The rsync variant of DestinationConfig. */
export type RsyncDestinationConfig = z.output<typeof rsyncDestinationSchema>;
/** The s3 variant of DestinationConfig. */
export type S3DestinationConfig = z.output<typeof s3DestinationSchema>;
/** A destination config as written in YAML, before defaults. */
export type DestinationConfigInput = z.input<typeof destinationConfigSchema>;

/** The S3 fields that say where the keys are: literal keys, or the coordinator's variables. */
export const S3_CREDENTIAL_FIELDS = ['accessKeyId', 'secretAccessKey', 'accessKeyIdEnv', 'secretAccessKeyEnv'] as const;

/**
 * The destination as it may leave the coordinator: an S3 one without its keys or the names of
 * the coordinator's variables (each agent reads its own keys; the protocol has no field for
 * them, and an agent's state.json keeps what it was sent).
 */
export function withoutCredentials(d: DestinationConfig): DestinationConfig {
  if (d.type !== 's3') return d;
  const out: Record<string, unknown> = { ...d };
  for (const f of S3_CREDENTIAL_FIELDS) delete out[f];
  return out as S3DestinationConfig;
}

/** Validates a destination config; throws ConfigError listing every problem as `destination.<field>: <message>`. */
export function parseDestinationConfig(input: unknown, where = 'destination'): DestinationConfig {
  const r = destinationConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw new ConfigError(`invalid destination config:\n  ${lines.join('\n  ')}`, { problems: lines });
}
