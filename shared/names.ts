/**
 * Strict patterns for every name that reaches a command line, a path or a request:
 * backup ids, snapshot tags, keyspaces, tables, node names, index names.
 */
import { z } from 'zod';
import { ValidationError } from './errors';

/** A backup id: `tandem-YYYYMMDDTHHMMSSZ-xxxxxx`, or any operator-chosen [a-z0-9-] name up to 64 chars. */
export const BACKUP_ID = /^[a-z0-9][a-z0-9-]{2,63}$/;
/** A Cassandra snapshot tag; tandem uses the backup id as the tag. */
export const SNAPSHOT_TAG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Cassandra keyspace and table names: letters, digits, underscore, 48 chars at most (unquoted). */
export const CQL_NAME = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;
/** A table with its keyspace, `<keyspace>.<table>`, both CQL names. */
export const QUALIFIED_TABLE = /^[A-Za-z][A-Za-z0-9_]{0,47}\.[A-Za-z][A-Za-z0-9_]{0,47}$/;
/** A node name in the fleet: a host-name label or dotted host name. */
export const NODE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;
/** An Elasticsearch index name or pattern as TheHive uses them (lowercase, no path characters). */
export const INDEX_NAME = /^[a-z0-9][a-z0-9_.*-]{0,254}$/;
/**
 * One concrete Elasticsearch index or alias name, as read back from a backup set: no pattern
 * (`*`), no list (`,`), no `#`, space, uppercase, path character or `..`, no leading `-_+.`.
 */
export const ES_INDEX = /^(?!.*\.\.)[a-z0-9][a-z0-9_.-]{0,254}$/;
/** An Elasticsearch snapshot repository name (it goes into request paths). */
export const ES_REPOSITORY = /^[a-z0-9][a-z0-9_-]{0,127}$/;
/** An Elasticsearch snapshot name; tandem names snapshots after the lowercased snapshot tag. */
export const ES_SNAPSHOT = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * The Elasticsearch snapshots tandem makes: the snapshot tag of a backup, lowercased, always with
 * the `tandem-` prefix (snapshotTagFor). Only such a snapshot may be deleted when a set is pruned.
 */
export const TANDEM_ES_SNAPSHOT = /^tandem-[a-z0-9][a-z0-9_-]{0,56}$/;

/** The Elasticsearch snapshot name of a backup (the role names its snapshot after the lowercased tag). */
export const esSnapshotFor = (backupId: string) => snapshotTagFor(backupId).toLowerCase();

function check(kind: string, pattern: RegExp, value: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ValidationError(`invalid ${kind} ${JSON.stringify(value)}: must match ${pattern.source}`, { [kind]: value });
  }
  return value;
}

/** Returns the backup id, or throws ValidationError. */
export const checkBackupId = (v: string) => check('backup id', BACKUP_ID, v);
/** Returns the restore id (a backup id's pattern: it names a folder on every agent), or throws ValidationError. */
export const checkRestoreId = (v: string) => check('restore id', BACKUP_ID, v);
/** Returns the snapshot tag, or throws ValidationError. */
export const checkTag = (v: string) => check('snapshot tag', SNAPSHOT_TAG, v);
/** Returns the keyspace or table name, or throws ValidationError. */
export const checkCqlName = (v: string) => check('CQL name', CQL_NAME, v);
/** Returns the node name, or throws ValidationError. */
export const checkNodeName = (v: string) => check('node name', NODE_NAME, v);
/** Returns the index name, or throws ValidationError. */
export const checkIndexName = (v: string) => check('index name', INDEX_NAME, v);

/**
 * A string schema held to one of these patterns, for what is read back from a destination
 * (manifest, part records, listings): parsing is where the check happens. The message quotes the
 * value (JSON, so NUL and control characters show) and the pattern.
 */
export function nameSchema(kind: string, pattern: RegExp) {
  return z.string().superRefine((v, ctx) => {
    if (!pattern.test(v)) {
      const shown = JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
      ctx.addIssue({ code: 'custom', message: `${shown} is not a valid ${kind} (must match ${pattern.source})` });
    }
  });
}

/** A new backup id from the current time: `tandem-20261121t233400z-1a2b3c`. */
export function newBackupId(now = new Date(), random = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  const suffix = Math.floor(random() * 0xffffff).toString(16).padStart(6, '0');
  return `tandem-${stamp}-${suffix}`;
}

/** The instant a generated backup id names (`tandem-20261121t233400z-…`, UTC), ms since the epoch; null for an operator-chosen id. */
export function backupIdTime(id: string): number | null {
  const m = /^tandem-(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z-[0-9a-f]{6}$/.exec(id);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(ms) ? null : ms;
}

/** The snapshot tag of a backup: its id, with tandem's prefix so agents recognise their own debris. */
export function snapshotTagFor(backupId: string): string {
  return checkTag(backupId.startsWith('tandem-') ? backupId : `tandem-${backupId}`);
}
