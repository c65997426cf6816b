/**
 * What a cassandra restore works on: the manifest nodes this agent loads, their tables, the
 * keyspace the data goes into. Shared by the restore phases and the schema phase.
 */
import { ValidationError } from '../../../shared/errors';
import { nodesWith } from '../../../shared/manifest';
import { sstableContentsSchema, type ArchivedFile, type ShippedTable } from '../../../shared/parts/cassandra';
import { readReferenced } from '../../../shared/parts/io';
import type { RestoreContext } from '../role';

/** The tables of one manifest node's cassandra part. */
export function tablesOf(ctx: RestoreContext, source: string): ShippedTable[] {
  const node = nodesWith(ctx.manifest, 'cassandra').find((n) => n.node === source);
  if (!node) throw new ValidationError(`the backup set has no cassandra part for node ${source}`);
  return node.parts.cassandra.tables;
}

/** Manifest nodes whose archives this agent loads (option cassandraSources; default: itself). */
export function sources(ctx: RestoreContext): string[] {
  return ctx.options.cassandraSources.length ? ctx.options.cassandraSources : [ctx.node];
}

/** The keyspace the data goes into: option targetKeyspace, else the one backed up. */
export function targetKeyspace(ctx: RestoreContext, backedUp: string): string {
  return ctx.options.targetKeyspace ?? backedUp;
}

/** Every keyspace the backup set holds. */
export function backedUpKeyspaces(ctx: RestoreContext): Set<string> {
  return new Set(nodesWith(ctx.manifest, 'cassandra').flatMap((n) => n.parts.cassandra.keyspaces));
}

/** The SSTable files of each table archive of one node, read from contents.json and checked. */
export async function contentsOf(ctx: RestoreContext, source: string): Promise<Map<string, ArchivedFile[]>> {
  const node = nodesWith(ctx.manifest, 'cassandra').find((n) => n.node === source);
  if (!node) throw new ValidationError(`the backup set has no cassandra part for node ${source}`);
  const contents = await readReferenced(ctx.destination, node.parts.cassandra.contents, sstableContentsSchema, 'SSTable contents file');
  return new Map(Object.entries(contents.tables));
}
