/**
 * The agent's own keys for an S3 destination. The coordinator sends where the sets go, never the
 * keys (the protocol has no field for them): each agent reads its keys from environment variables
 * its config names, from a credentials file only it can read, or, with neither, from the AWS
 * SDK's default chain (AWS_* variables, ~/.aws, the instance role).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { absolutePath } from '../shared/config/common';
import { openDestination, withoutCredentials, type DestinationConfig, type DestinationOpener, type S3Access, type S3Keys } from '../shared/destination';
import { ConfigError } from '../shared/errors';

/** A POSIX environment variable name. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name' });
/** An AWS profile name, as in `[name]` of a shared-credentials file. */
const profileName = z.string().regex(/^[A-Za-z0-9_.@+-]{1,64}$/, { message: 'must be a profile name like "default" or "tandem"' });

/** `destinationCredentials` in the agent's config: where this agent finds its destination keys. */
export const destinationCredentialsSchema = z.strictObject({
  /** S3 keys: two variables, or a file; absent = the AWS SDK's default chain (environment, instance role). */
  s3: z
    .union([
      z.strictObject({
        /** Name of the variable (in the agent's environment) holding the access key id. */
        accessKeyIdEnv: envName,
        /** Name of the variable holding the secret access key. */
        secretAccessKeyEnv: envName,
      }),
      z.strictObject({
        /** AWS shared-credentials file (INI), owned by the agent's user with mode 0600 or 0400. */
        file: absolutePath,
        /** The profile read from the file; default "default". */
        profile: profileName.default('default'),
      }),
    ])
    .optional(),
});

/** The validated `destinationCredentials`. */
export type DestinationCredentials = z.output<typeof destinationCredentialsSchema>;

/** What an agent without keys tells the operator to set. */
export const AGENT_CREDENTIALS_HINT =
  'set destinationCredentials.s3 in the agent\'s config (accessKeyIdEnv and secretAccessKeyEnv, or file: /etc/tandem/s3-credentials), ' +
  'or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment (a drop-in of tandem-agent.service with EnvironmentFile=), or give the host an instance role';

/** A credentials file is a few lines: anything past this is not one. */
const MAX_FILE_BYTES = 64 * 1024;

/**
 * The keys of `profile` in an AWS shared-credentials file (`[profile]`, then
 * `aws_access_key_id = …`, `aws_secret_access_key = …`, optionally `aws_session_token = …`;
 * `#` and `;` start comments). Messages name the file and line, never a value.
 */
export function parseCredentialsFile(text: string, file: string, profile = 'default'): S3Keys {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*([^\]\s]+)\s*\]$/.exec(line);
    if (header) {
      // `[profile x]` is the config file's spelling; the credentials file's is `[x]`.
      const name = header[1];
      if (sections.has(name)) throw new ConfigError(`${file}:${i + 1}: profile [${name}] appears twice`, { file });
      sections.set(name, (current = new Map()));
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) throw new ConfigError(`${file}:${i + 1}: not a "[profile]" or "key = value" line: write the AWS shared-credentials format (see docs/destination.md)`, { file });
    if (!current) throw new ConfigError(`${file}:${i + 1}: ${kv[1]} comes before any [profile] line: start the file with [${profile}]`, { file });
    current.set(kv[1].toLowerCase(), kv[2].trim());
  }
  const s = sections.get(profile);
  if (!s) throw new ConfigError(`${file}: no [${profile}] profile${sections.size ? ` (it has ${[...sections.keys()].map((n) => `[${n}]`).join(', ')})` : ''}: add one, or set destinationCredentials.s3.profile`, { file });
  const need = (k: string) => {
    const v = s.get(k);
    if (!v) throw new ConfigError(`${file}: [${profile}] has no ${k}: add "${k} = …"`, { file });
    return v;
  };
  const keys: S3Keys = { accessKeyId: need('aws_access_key_id'), secretAccessKey: need('aws_secret_access_key') };
  const token = s.get('aws_session_token');
  return token ? { ...keys, sessionToken: token } : keys;
}

/** Reads a credentials file that only its owner can read (mode 0600 or 0400, a regular file, not a link). */
export function readCredentialsFile(file: string, profile = 'default'): S3Keys {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ELOOP' ? 'is a symbolic link: name the file itself' : code === 'EACCES' ? 'is not readable by the agent\'s user: chown it to that user' : (err as Error).message;
    throw new ConfigError(`destinationCredentials.s3.file ${file} ${why}`, { file });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(`destinationCredentials.s3.file ${file} is not a regular file`, { file });
    if (st.mode & 0o077) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new ConfigError(`destinationCredentials.s3.file ${file} has mode ${mode}, readable by others than its owner: run chmod 600 ${file}`, { file });
    }
    if (st.size > MAX_FILE_BYTES) throw new ConfigError(`destinationCredentials.s3.file ${file} is ${st.size} bytes, more than a credentials file (${MAX_FILE_BYTES})`, { file });
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > MAX_FILE_BYTES) throw new ConfigError(`destinationCredentials.s3.file ${file} grew past ${MAX_FILE_BYTES} bytes while read`, { file });
    return parseCredentialsFile(buf.subarray(0, n).toString('utf8'), file, profile);
  } finally {
    closeSync(fd);
  }
}

/** The keys the agent's own settings give now; undefined = the SDK's default chain. */
export function agentS3Keys(c: DestinationCredentials, env: NodeJS.ProcessEnv = process.env): S3Keys | undefined {
  const s3 = c.s3;
  if (!s3) return undefined;
  if ('file' in s3) return readCredentialsFile(s3.file, s3.profile);
  const pick = (name: string, what: string) => {
    const v = env[name];
    if (!v) throw new ConfigError(`environment variable ${name} (the S3 ${what}, named by destinationCredentials.s3) is not set or empty in the agent's environment: set it (systemd: a drop-in of tandem-agent.service with EnvironmentFile=)`);
    return v;
  };
  return { accessKeyId: pick(s3.accessKeyIdEnv, 'access key id'), secretAccessKey: pick(s3.secretAccessKeyEnv, 'secret access key') };
}

/** How this agent opens an S3 destination: its own keys, read when the destination is opened. */
export function agentS3Access(c: DestinationCredentials, env: NodeJS.ProcessEnv = process.env): S3Access {
  // Read each time a destination is opened (a rotated file is picked up without a restart); a
  // problem fails the request that needed the keys, as a check's or a step's message.
  const credentials = c.s3 ? async () => agentS3Keys(c, env)! : undefined;
  return { credentials, noCredentialsHint: AGENT_CREDENTIALS_HINT };
}

/** The agent's destination opener: what the coordinator sent, with this agent's own keys. */
export function agentDestinationOpener(c: DestinationCredentials, env: NodeJS.ProcessEnv = process.env): DestinationOpener {
  const access = agentS3Access(c, env);
  // withoutCredentials: a record written by an older agent may still hold the coordinator's keys; they are not used.
  return (d: DestinationConfig) => openDestination(withoutCredentials(d), d.type === 's3' ? access : undefined);
}
