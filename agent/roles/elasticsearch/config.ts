/**
 * Settings of the elasticsearch role (agent.yaml `roles.elasticsearch`), and their resolution
 * against TheHive's application.conf when `theHiveConfig` is given (explicit settings win).
 */
import { z } from 'zod';
import { absolutePath, millis } from '../../../shared/config/common';
import { ConfigError } from '../../../shared/errors';
import { ES_REPOSITORY, INDEX_NAME } from '../../../shared/names';
import { esUrlFromConf, readTheHiveConf } from '../thehive-conf';

/** A POSIX environment variable name. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
/** An ES repository name: lowercase, no path or URL characters (it goes into request paths). */
const repoName = z.string().regex(ES_REPOSITORY, 'must be lowercase letters, digits, "_" and "-"');

/** The elasticsearch role's settings schema. */
export const esSettings = z
  .strictObject({
    /** TheHive's application.conf; fills url, credentials and index name when they are not set here. */
    theHiveConfig: absolutePath.optional(),
    /** Elasticsearch HTTP URL; default from theHiveConfig, else http://127.0.0.1:9200. */
    url: z.url({ protocol: /^https?$/, message: 'url must be an http:// or https:// URL' }).optional(),
    /** Basic-auth user name; default: none (or theHiveConfig's). */
    username: z.string().min(1).optional(),
    /** Basic-auth password (prefer passwordEnv so it stays out of the file). */
    password: z.string().optional(),
    /** Environment variable holding the password. */
    passwordEnv: envName.optional(),
    /** CA certificate (PEM) for an https URL; default: the system's CAs. */
    caFile: absolutePath.optional(),
    /** Snapshot repository name; default 'tandem'. */
    repository: repoName.default('tandem'),
    /** Folder (inside ES's path.repo) for an `fs` repository created when missing; default: the repository must exist. */
    repositoryLocation: absolutePath.optional(),
    /**
     * Folder (inside path.repo on every node, shared on a cluster like repositoryLocation) where an
     * encrypted set's snapshot is staged, in a repository of its own, before its files are stored
     * encrypted in the set; and where a restore stages them back. Default: repositoryLocation + '-staging'.
     * The agent owns it: whatever is in it is removed.
     */
    stagingLocation: absolutePath.optional(),
    /** Index names, patterns and aliases to snapshot; default [<index-name>_global*, thehive-audits*, <index-name>] with index-name 'thehive'. */
    indexPatterns: z.array(z.string().regex(INDEX_NAME, 'must be a lowercase index name or pattern')).min(1).optional(),
    /** Accept a yellow cluster (single-node clusters with replicas); default false. Option allow_yellow=true also accepts. */
    allowYellow: z.boolean().default(false),
    /** Longest wait for the snapshot to finish, ms; default 3 600 000 (1 h). */
    snapshotTimeoutMs: millis(1_000, 7 * 24 * 3_600_000).default(3_600_000),
    /** Interval between snapshot status polls, ms; default 1000. */
    pollIntervalMs: millis(50, 60_000).default(1_000),
    /** Timeout of one HTTP request, ms; default 30 000. */
    requestTimeoutMs: millis(500, 600_000).default(30_000),
  })
  .refine((s) => !(s.password !== undefined && s.passwordEnv !== undefined), 'give password or passwordEnv, not both')
  .refine((s) => s.username !== undefined || (s.password === undefined && s.passwordEnv === undefined), 'password needs a username');

/** Validated settings as written. */
export type EsSettings = z.output<typeof esSettings>;

/** Settings with every default applied. */
export interface ResolvedEsSettings extends Omit<EsSettings, 'url' | 'indexPatterns'> {
  url: string;
  indexPatterns: string[];
}

/** Applies theHiveConfig (read now) and the built-in defaults; ConfigError if the file is unusable. */
export function resolveEsSettings(s: EsSettings): ResolvedEsSettings {
  const conf = s.theHiveConfig ? readTheHiveConf(s.theHiveConfig).elasticsearch : undefined;
  const indexName = conf?.indexName ?? 'thehive';
  if (!INDEX_NAME.test(indexName)) throw new ConfigError(`${s.theHiveConfig}: index-name ${JSON.stringify(indexName)} is not a valid index name`);
  const fromConf = s.username === undefined && conf?.username !== undefined;
  return {
    ...s,
    url: s.url ?? (conf ? esUrlFromConf(conf) : undefined) ?? 'http://127.0.0.1:9200',
    username: s.username ?? conf?.username,
    // Credentials come as a pair: a password from the file only goes with the file's user.
    password: fromConf ? conf?.password : s.password,
    // JanusGraph names its mixed index <index-name>_global (then _global1... after a rebuild) and aliases it <index-name>.
    indexPatterns: s.indexPatterns ?? [`${indexName}_global*`, 'thehive-audits*', indexName],
  };
}
