/**
 * Restore options and phases, typed: one schema checks what a RestoreRequest carries before any
 * role reads it, so a role never sees a name, path or bucket that a CLI flag could not give.
 */
import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import { bucketNameProblem } from '../destination/config';
import { firstIssue, ValidationError } from '../errors';
import {
  CassandraLoad,
  RestorePhase as WirePhase,
  type RestoreOptions as WireRestoreOptions,
} from '../generated/tandem/v2/agent';
import { CQL_NAME, NODE_NAME } from '../names';
import { defined } from './destination';

import { RESTORE_PHASES, ROLE_NAMES, type RestorePhase } from '../contract';

const PHASE_TO_WIRE: Record<RestorePhase, WirePhase> = {
  check: WirePhase.CHECK,
  fetch: WirePhase.FETCH,
  schema: WirePhase.SCHEMA,
  load: WirePhase.LOAD,
  verify: WirePhase.VERIFY,
  cleanup: WirePhase.CLEANUP,
};

/** The protocol's value of a phase. */
export const toWirePhase = (p: RestorePhase): WirePhase => PHASE_TO_WIRE[p];

/** The phase of a request; throws ValidationError for an unknown value. */
export function fromWirePhase(p: WirePhase): RestorePhase {
  const name = RESTORE_PHASES.find((k) => PHASE_TO_WIRE[k] === p);
  if (!name) throw new ValidationError(`phase: unknown value ${p} (known: ${RESTORE_PHASES.join(', ')})`);
  return name;
}

/** Roles a restore can skip on a node: the production roles and the protocol's test role. */
const RESTORE_ROLES = [...ROLE_NAMES, 'rehearsal'] as const;

const folder = z.string().refine((t) => isAbsolute(t) && normalize(t) === t && t !== '/', 'must be an absolute, normalized folder other than /');
const bucket = z.string().superRefine((b, ctx) => {
  const why = bucketNameProblem(b);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});
/** Hosts for sstableloader: host names or IP addresses, never an option. */
const HOST = /^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/;

/** What one node does in a restore, validated. */
export const restoreOptionsSchema = z.strictObject({
  /** Restore Cassandra into this keyspace (a drill's scratch copy). */
  targetKeyspace: z.string().regex(CQL_NAME, 'must be a CQL name').optional(),
  /** Drop the target keyspace before recreating it; otherwise its tables are truncated. */
  dropKeyspace: z.boolean().default(false),
  /** Restore indices under this prefix; it must itself start like an index name. */
  indexPrefix: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be lowercase letters, digits, "_", "." and "-", starting with a letter or digit').optional(),
  /** Restore files into this folder instead of TheHive's. */
  filesTarget: folder.optional(),
  /** Restore a bucket's objects into this bucket (a drill). */
  filesBucket: bucket.optional(),
  /** How Cassandra SSTables are loaded on this node. */
  cassandraLoad: z.enum(['import', 'sstableloader']).default('import'),
  /** Manifest nodes whose SSTables this node loads; empty: this node's own. */
  cassandraSources: z.array(z.string().regex(NODE_NAME, 'must be a node name')).max(1000).default([]),
  /** CQL / loader hosts for sstableloader; empty: the role's own. */
  cassandraHosts: z.array(z.string().regex(HOST, 'must be a host name or address')).max(1000).default([]),
  /** This node recreates the schema. */
  createSchema: z.boolean().default(false),
  /** Replication of the recreated keyspace, by datacenter; empty: as backed up. */
  replication: z.array(z.strictObject({ datacenter: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a datacenter name'), factor: z.int().min(1).max(99) })).max(64).default([]),
  /** Have TheHive rebuild its index at its next start. */
  rebuildIndex: z.boolean().default(false),
  /** The manifest node whose part is restored when several have the role. */
  sourceNode: z.string().regex(NODE_NAME, 'must be a node name').optional(),
  /** Remove files the backup does not hold. */
  filesClean: z.boolean().default(false),
  /** The cleanup phase tears down the drill's scratch copies. */
  dropScratch: z.boolean().default(false),
  /** Roles that do nothing on this node. */
  skipRoles: z.array(z.enum(RESTORE_ROLES)).default([]),
});

/** Validated restore options of one node. */
export type RestoreOptions = z.output<typeof restoreOptionsSchema>;
/** Restore options as a caller writes them (defaults filled in by parsing). */
export type RestoreOptionsInput = z.input<typeof restoreOptionsSchema>;

/** Parses restore options; throws ValidationError naming the field. */
export function parseRestoreOptions(input: unknown, where = 'options'): RestoreOptions {
  const r = restoreOptionsSchema.safeParse(input);
  if (!r.success) throw new ValidationError(firstIssue(r.error, where));
  return r.data;
}

/** The `DC:RF[,DC:RF]` flag as replication entries; throws ValidationError. */
export function parseReplicationFlag(v: string): RestoreOptions['replication'] {
  if (!/^[A-Za-z0-9_.-]+:\d{1,2}(,[A-Za-z0-9_.-]+:\d{1,2})*$/.test(v)) throw new ValidationError(`replication ${JSON.stringify(v)}: expected DC:RF[,DC:RF...], e.g. datacenter1:3`);
  return v.split(',').map((pair) => {
    const [datacenter, rf] = pair.split(':');
    return { datacenter, factor: Number(rf) };
  });
}

const LOAD_TO_WIRE = { import: CassandraLoad.IMPORT, sstableloader: CassandraLoad.SSTABLELOADER } as const;

/** The options as the protocol carries them. */
export function toWireRestoreOptions(o: RestoreOptions): WireRestoreOptions {
  return { ...o, cassandraLoad: LOAD_TO_WIRE[o.cassandraLoad] };
}

/** The options a RestoreRequest carries, validated; throws ValidationError naming the field. */
export function fromWireRestoreOptions(o: WireRestoreOptions | undefined): RestoreOptions {
  if (!o) throw new ValidationError('options: missing');
  const { cassandraLoad, ...rest } = o;
  const load = cassandraLoad === CassandraLoad.UNSPECIFIED
    ? 'import'
    : (Object.keys(LOAD_TO_WIRE) as (keyof typeof LOAD_TO_WIRE)[]).find((k) => LOAD_TO_WIRE[k] === cassandraLoad);
  if (!load) throw new ValidationError(`options.cassandraLoad: unknown value ${cassandraLoad}`);
  return parseRestoreOptions({ ...defined(rest), cassandraLoad: load });
}
