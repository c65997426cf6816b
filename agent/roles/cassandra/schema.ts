/**
 * Recreates a keyspace from the schema.cql saved with the backup (DESCRIBE KEYSPACE output),
 * optionally under another name. An existing keyspace is dropped only when asked; otherwise its
 * tables are truncated, because tombstones newer than the backup would hide restored rows.
 */
import type { Client } from 'cassandra-driver';
import { schemaCqlPath } from '../../../shared/destination/layout';
import { readChecked } from '../../../shared/parts/io';
import { storedPath } from '../../../shared/encrypted-set';
import { PreconditionError, TandemError, ValidationError } from '../../../shared/errors';
import { checkCqlName } from '../../../shared/names';
import type { PhaseOutcome, RestoreContext } from '../role';
import type { CassandraSettings } from './config';
import { replication, withSession } from './cql';
import { sources, tablesOf, targetKeyspace } from './restore-tables';
import { checkSchemaCql, splitCql } from './schema-cql';
import { nodesWith } from '../../../shared/manifest';

/** NetworkTopologyStrategy with the given replication per datacenter, as Cassandra's map. */
export function replicationMap(entries: readonly { datacenter: string; factor: number }[]): Record<string, string> {
  const out: Record<string, string> = { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy' };
  for (const e of entries) out[e.datacenter] = String(e.factor);
  return out;
}

/** Splits DESCRIBE output into statements (comments dropped, quotes respected). */
export function splitStatements(cql: string): string[] {
  return splitCql(cql).map((s) => s.text);
}

/** Rewrites CREATE statements for another keyspace name and makes them idempotent. */
export function rewriteStatement(stmt: string, from: string, to: string): string {
  let s = stmt;
  if (from !== to) {
    const name = `(?:"${from}"|${from})`;
    s = s.replace(new RegExp(`^(CREATE KEYSPACE\\s+(?:IF NOT EXISTS\\s+)?)${name}\\b`, 'i'), `$1${to}`);
    s = s.replace(new RegExp(`\\b${name}\\.`, 'g'), `${to}.`);
  }
  return s.replace(/^CREATE (KEYSPACE|TABLE|TYPE|INDEX|CUSTOM INDEX|MATERIALIZED VIEW|FUNCTION|AGGREGATE)\s+(?!IF NOT EXISTS)/i, 'CREATE $1 IF NOT EXISTS ');
}

/** The replication map of a CREATE KEYSPACE statement as DESCRIBE writes it; null if unreadable. */
export function replicationOf(createKeyspace: string): Record<string, string> | null {
  const m = /replication\s*=\s*(\{[^}]*\})/i.exec(createKeyspace);
  if (!m) return null;
  const out: Record<string, string> = {};
  for (const kv of m[1].matchAll(/'([^']*)'\s*:\s*'([^']*)'/g)) out[kv[1]] = kv[2];
  return Object.keys(out).length ? out : null;
}

/** The statement with its replication map replaced. */
export function withReplication(createKeyspace: string, rep: Record<string, string>): string {
  return createKeyspace.replace(/replication\s*=\s*\{[^}]*\}/i, `replication = ${cqlMap(rep)}`);
}

const cqlMap = (rep: Record<string, string>) => `{${Object.entries(rep).map(([k, v]) => `'${k.replace(/'/g, "''")}': '${v.replace(/'/g, "''")}'`).join(', ')}}`;

/** Refuses a replication asking more replicas in a datacenter than it has nodes. */
export function checkReplicationFits(keyspace: string, rep: Record<string, string>, nodes: Record<string, number>): void {
  const total = Object.values(nodes).reduce((a, b) => a + b, 0);
  const short = /SimpleStrategy$/.test(rep.class ?? '')
    ? Number(rep.replication_factor) > total ? [`${rep.replication_factor} replicas, the cluster has ${total} nodes`] : []
    : Object.entries(rep)
        .filter(([dc, rf]) => dc !== 'class' && Number(rf) > (nodes[dc] ?? 0))
        .map(([dc, rf]) => `${rf} replicas in ${dc}, which has ${nodes[dc] ?? 0} nodes`);
  if (!short.length) return;
  const hint = Object.entries(nodes).map(([dc, n]) => `${dc}:${Math.min(n, 3)}`).join(',');
  throw new PreconditionError(`keyspace ${keyspace} asks for ${short.join('; ')}: restore with --replication ${hint} (another topology needs its own replication)`);
}

/** Nodes per datacenter, as the cluster knows them. */
async function nodesPerDc(c: Client): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const q of ['SELECT data_center FROM system.local', 'SELECT data_center FROM system.peers']) {
    for (const r of (await c.execute(q)).rows) out[String(r.data_center)] = (out[String(r.data_center)] ?? 0) + 1;
  }
  return out;
}

/** Drops (when asked) or truncates, then recreates the keyspace and its tables; waits for agreement. */
export async function loadSchema(s: CassandraSettings, ctx: RestoreContext): Promise<PhaseOutcome> {
  const source = sources(ctx)[0];
  const tables = tablesOf(ctx, source);
  const keyspaces = [...new Set(tables.map((t) => t.keyspace))].filter((k) => !k.startsWith('system'));
  const done: Record<string, string> = {};
  const override = ctx.options.replication.length ? replicationMap(ctx.options.replication) : null;
  await withSession(s, async (c) => {
    for (const ks of keyspaces) {
      const target = targetKeyspace(ctx, ks);
      // Hostile input like everything read back: the file the manifest records (size, sha256), and
      // only CREATE statements of this keyspace and the tables it lists, checked before any runs.
      const file = schemaCqlPath(ctx.backupId, source, ks);
      const own = { keyspace: ks, tables: nodesWith(ctx.manifest, 'cassandra').flatMap((n) => n.parts.cassandra.tables).filter((t) => t.keyspace === ks).map((t) => t.table) };
      const statements = checkSchemaCql((await readSchemaFile(ctx, file)).toString('utf8'), own, file).map((x) => x.text);
      const existing = await replication(c, target);
      const existed = existing !== null;
      const keep = existed && !ctx.options.dropKeyspace;
      const createKs = statements.find((x) => /^CREATE KEYSPACE/i.test(x));
      // Checked before anything changes: a keyspace asking more replicas than the cluster has
      // nodes would take the restored data but fail every read at QUORUM or ALL.
      const wanted = override ?? (keep ? existing : createKs ? replicationOf(createKs) : null);
      if (wanted) checkReplicationFits(target, wanted, await nodesPerDc(c));
      if (existed && ctx.options.dropKeyspace) {
        await exec(c, `DROP KEYSPACE IF EXISTS "${checkCqlName(target)}"`);
        done[target] = 'dropped and recreated';
      } else done[target] = existed ? 'kept; restored tables truncated' : 'created';
      for (const stmt of statements) await exec(c, rewriteStatement(override && stmt === createKs ? withReplication(stmt, override) : stmt, ks, target));
      if (override && keep) await exec(c, `ALTER KEYSPACE "${checkCqlName(target)}" WITH replication = ${cqlMap(override)}`);
      if (existed && !ctx.options.dropKeyspace) {
        for (const t of tables.filter((x) => x.keyspace === ks)) await exec(c, `TRUNCATE "${checkCqlName(target)}"."${checkCqlName(t.table)}"`);
      }
    }
    await waitForAgreement(c);
  });
  return { detail: Object.entries(done).map(([k, what]) => `${k}: ${what}`).join('; ') };
}

async function exec(c: Client, cql: string): Promise<void> {
  try {
    await c.execute(cql);
  } catch (err) {
    throw new TandemError(`schema statement failed: ${cql.split('\n')[0]}…: ${(err as Error).message}`);
  }
}

export async function waitForAgreement(c: Client): Promise<void> {
  for (let i = 0; i < 60; i++) {
    // The driver's typings omit checkSchemaAgreement; it returns a promise without a callback.
    if (await (c.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> }).checkSchemaAgreement()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new TandemError('the cluster did not reach schema agreement within 60 s after recreating the keyspace');
}

/**
 * The bytes of `file` (a schema.cql) as the manifest records them. Of an encrypted set, the
 * manifest records the stored `.age` file: the restore's destination checks its size and sha256
 * as it decrypts, and refuses a file the manifest does not record.
 */
async function readSchemaFile(ctx: RestoreContext, file: string): Promise<Buffer> {
  if (ctx.manifest.options.setRecipient) {
    if (!ctx.manifest.files.some((f) => f.path === storedPath(file))) throw new ValidationError(`${storedPath(file)} is not among the files the manifest records: the backup set is damaged`);
    return ctx.destination.readSmall(file, SCHEMA_MAX_BYTES);
  }
  const ref = ctx.manifest.files.find((f) => f.path === file);
  if (!ref) throw new ValidationError(`${file} is not among the files the manifest records: the backup set is damaged`);
  return readChecked(ctx.destination, ref);
}

/** A keyspace's schema.cql is a few kilobytes; anything past this is not one. Bytes. */
const SCHEMA_MAX_BYTES = 16 * 1024 * 1024;
