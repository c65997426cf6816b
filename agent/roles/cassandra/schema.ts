/**
 * Recreates a keyspace from the schema.cql saved with the backup (DESCRIBE KEYSPACE output),
 * optionally under another name. An existing keyspace is dropped only when asked; otherwise its
 * tables are truncated, because tombstones newer than the backup would hide restored rows.
 */
import type { Client } from 'cassandra-driver';
import { readAll } from '../../../shared/destination';
import { TandemError } from '../../../shared/errors';
import { checkCqlName } from '../../../shared/names';
import type { RestoreContext } from '../role';
import type { CassandraSettings } from './config';
import { replication, withSession } from './cql';
import { targetKeyspace } from './restore';
import type { ShippedTable } from './ship';

/** Splits DESCRIBE output into statements. */
export function splitStatements(cql: string): string[] {
  return cql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*(--|\/\/).*$/gm, '').trim())
    .filter(Boolean);
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

/** Drops (when asked) or truncates, then recreates the keyspace and its tables; waits for agreement. */
export async function loadSchema(s: CassandraSettings, ctx: RestoreContext): Promise<unknown> {
  const source = (ctx.options.cassandra_sources ?? ctx.node).split(',')[0].trim();
  const node = ctx.manifest.nodes.find((n) => n.node === source);
  const tables = (node?.parts.cassandra as { tables?: ShippedTable[] } | undefined)?.tables ?? [];
  const keyspaces = [...new Set(tables.map((t) => t.keyspace))].filter((k) => !k.startsWith('system'));
  const done: Record<string, string> = {};
  await withSession(s, async (c) => {
    for (const ks of keyspaces) {
      const target = targetKeyspace(ctx, ks);
      const statements = splitStatements((await readAll(ctx.destination, `${ctx.backupId}/${source}/cassandra/${ks}/schema.cql`)).toString('utf8'));
      const existed = (await replication(c, target)) !== null;
      if (existed && ctx.options.drop_keyspace === 'true') {
        await exec(c, `DROP KEYSPACE IF EXISTS "${checkCqlName(target)}"`);
        done[target] = 'dropped and recreated';
      } else done[target] = existed ? 'kept; restored tables truncated' : 'created';
      for (const stmt of statements) await exec(c, rewriteStatement(stmt, ks, target));
      if (existed && ctx.options.drop_keyspace !== 'true') {
        for (const t of tables.filter((x) => x.keyspace === ks)) await exec(c, `TRUNCATE "${checkCqlName(target)}"."${checkCqlName(t.table)}"`);
      }
    }
    await waitForAgreement(c);
  });
  return { keyspaces: done };
}

async function exec(c: Client, cql: string): Promise<void> {
  try {
    await c.execute(cql);
  } catch (err) {
    throw new TandemError(`schema statement failed: ${cql.split('\n')[0]}…: ${(err as Error).message}`);
  }
}

async function waitForAgreement(c: Client): Promise<void> {
  for (let i = 0; i < 60; i++) {
    // The driver's typings omit checkSchemaAgreement; it returns a promise without a callback.
    if (await (c.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> }).checkSchemaAgreement()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new TandemError('the cluster did not reach schema agreement within 60 s after recreating the keyspace');
}
