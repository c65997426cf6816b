/**
 * Backup options, typed from the CLI flag to the manifest. One schema, used by the fleet file,
 * the `--option` flag, the agent's Prepare and the manifest; an option nobody knows is refused
 * where it enters, with its name.
 */
import { z } from 'zod';
import { parseRecipient } from '../age';
import { errorMessage, firstIssue, ValidationError } from '../errors';
import { Compression as WireCompression, type BackupOptions as WireBackupOptions } from '../generated/tandem/v2/agent';

import { COMPRESSIONS, isCompression, type Compression } from '../contract';

/** Every backup option, with its default. */
export const backupOptionsSchema = z.strictObject({
  /** Compression of Cassandra table archives; default bzip2 (`.tbz`, the vendor's format). */
  compression: z.enum(COMPRESSIONS).default('bzip2'),
  /** `nodetool repair <keyspace>` on each node before the snapshot; default false. */
  repair: z.boolean().default(false),
  /** Snapshot every keyspace, not only TheHive's; default false. */
  allKeyspaces: z.boolean().default(false),
  /** Leave the Elasticsearch index out (rebuilt on restore); default false. */
  skipIndex: z.boolean().default(false),
  /** Accept a keyspace whose replication does not cover every node; default false. */
  allowLowRf: z.boolean().default(false),
  /** Leave the local snapshot in place after shipping; default false. */
  keepSnapshot: z.boolean().default(false),
  /** Accept a yellow Elasticsearch cluster; default false. */
  allowYellow: z.boolean().default(false),
  /** A table is archived in full again past this many earlier archives in its chain; default 7. */
  maxChain: z.int().min(0).max(100).default(7),
  /**
   * ...or when more than this share (percent) of the bytes it references were compacted away since;
   * default 50. Under a steady writer, size-tiered compaction merges a quarter of a busy table's
   * bytes between two nightly sets: at 20 such a table was archived in full again in every set.
   */
  maxRemovedPercent: z.int().min(0).max(100).default(50),
  /**
   * The recipient (age1…) of the set's own key, which the coordinator makes for each encrypted
   * set; every file of the set is encrypted to it. Null (default): the set is written in clear.
   * Not an operator's option (the fleet file's `encryption` decides): it is set by the coordinator,
   * and the signed manifest records it, so a restore can tell the set key it opens is this set's.
   */
  setRecipient: z.string().transform((text, ctx) => {
    try {
      return parseRecipient(text).toString();
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) });
      return z.NEVER;
    }
  }).nullable().default(null),
});

/** Validated backup options, defaults applied. */
export type BackupOptions = z.output<typeof backupOptionsSchema>;

/** The option names as written on the command line and in the fleet file (`allow_low_rf`). */
export const OPTION_KEYS: Record<string, keyof BackupOptions> = {
  compression: 'compression',
  repair: 'repair',
  all_keyspaces: 'allKeyspaces',
  skip_index: 'skipIndex',
  allow_low_rf: 'allowLowRf',
  keep_snapshot: 'keepSnapshot',
  allow_yellow: 'allowYellow',
  max_chain: 'maxChain',
  max_removed_percent: 'maxRemovedPercent',
};

/** The fleet file's `backup.options`: snake_case keys, booleans. */
export const fleetBackupOptionsSchema = z.strictObject({
  repair: z.boolean().optional(),
  all_keyspaces: z.boolean().optional(),
  skip_index: z.boolean().optional(),
  allow_low_rf: z.boolean().optional(),
  keep_snapshot: z.boolean().optional(),
  allow_yellow: z.boolean().optional(),
  max_chain: z.int().min(0).max(100).optional(),
  max_removed_percent: z.int().min(0).max(100).optional(),
});

/** Parses `KEY=VALUE` flags into options; throws ValidationError naming the option. */
export function parseOptionFlags(flags: readonly string[]): Partial<BackupOptions> {
  const out: Record<string, unknown> = {};
  for (const kv of flags) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? '' : kv.slice(eq + 1);
    const name = OPTION_KEYS[key];
    if (!name) throw new ValidationError(`--option ${key}: unknown option; known: ${Object.keys(OPTION_KEYS).join(', ')}`);
    if (name === 'compression') {
      if (!isCompression(value)) throw new ValidationError(`--option compression=${value}: must be one of ${COMPRESSIONS.join(', ')}`);
      out[name] = value;
    } else if (name === 'maxChain' || name === 'maxRemovedPercent') {
      if (!/^\d{1,3}$/.test(value) || Number(value) > 100) throw new ValidationError(`--option ${key}=${value}: must be a whole number from 0 to 100`);
      out[name] = Number(value);
    } else {
      if (value !== 'true' && value !== 'false') throw new ValidationError(`--option ${key}=${value}: must be true or false`);
      out[name] = value === 'true';
    }
  }
  return out as Partial<BackupOptions>;
}

/** Options from the fleet file's snake_case keys. */
export function fromFleetOptions(o: z.output<typeof fleetBackupOptionsSchema>): Partial<BackupOptions> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[OPTION_KEYS[k]] = v;
  return out as Partial<BackupOptions>;
}

const TO_WIRE: Record<Compression, WireCompression> = { bzip2: WireCompression.BZIP2, xz: WireCompression.XZ, none: WireCompression.NONE };

/** The options as the protocol carries them. */
export function toWireBackupOptions(o: BackupOptions): WireBackupOptions {
  return { ...o, compression: TO_WIRE[o.compression], setRecipient: o.setRecipient ?? '' };
}

/** The options a Prepare carries, validated; throws ValidationError naming the field. */
export function fromWireBackupOptions(o: WireBackupOptions | undefined): BackupOptions {
  if (!o) throw new ValidationError('plan.options: missing');
  const compression = (Object.keys(TO_WIRE) as Compression[]).find((k) => TO_WIRE[k] === o.compression);
  if (!compression) throw new ValidationError(`plan.options.compression: unknown value ${o.compression} (known: ${COMPRESSIONS.join(', ')})`);
  // zod's own error would leave the agent as UNKNOWN with zod's text; a ValidationError is
  // INVALID_ARGUMENT naming the field, as the restore side answers.
  const r = backupOptionsSchema.safeParse({ ...o, compression, setRecipient: o.setRecipient || null });
  if (!r.success) throw new ValidationError(firstIssue(r.error, 'plan.options'));
  return r.data;
}
