/**
 * The cassandra role's records: what Commit took (the cut) and what ship stored (the part), as
 * written into `part.json` and the manifest; and `contents.json`, the SSTable files inside each
 * table archive, which can be many and so live beside the archives rather than in the manifest.
 */
import { z } from 'zod';
import { COMPRESSIONS } from '../contract';
import { CQL_NAME, nameSchema, QUALIFIED_TABLE, SNAPSHOT_TAG } from '../names';
import { destPath, epochMs, fileRef, sha256 } from './common';

/** A keyspace or table name: it becomes a folder, a CQL identifier and a nodetool argument. */
const cqlName = (kind: 'keyspace' | 'table') => nameSchema(`${kind} name`, CQL_NAME);

/** What Commit recorded: the server's own instant of the snapshot on this node. */
export const cassandraCommitSchema = z.strictObject({
  tag: nameSchema('snapshot tag', SNAPSHOT_TAG),
  /** The snapshotted keyspaces; ['*'] for every keyspace. */
  keyspaces: z.array(z.union([z.literal('*'), cqlName('keyspace')])),
  /** created_at of the snapshot (Cassandra's manifest.json), ms since the epoch. */
  cutAt: epochMs,
  /** When the JMX call started and returned, by the agent's clock. */
  requestedAt: epochMs,
  returnedAt: epochMs,
  tables: z.int().nonnegative(),
});

/** Rows one node held of one table at the cut, counted from its snapshot. */
export const tableRowCountSchema = z.strictObject({
  /** Live CQL rows (what SELECT would return from this node's data alone). */
  rows: z.int().nonnegative(),
  partitions: z.int().nonnegative(),
  /** Rows per range of the datacenter's ring, keyed by the range's end token; null when not counted. */
  ranges: z.record(z.string().regex(/^-?\d{1,20}$/), z.int().nonnegative()).nullable(),
  /** The node's datacenter, whose ring the ranges belong to. */
  datacenter: z.string(),
  /** The instant TTLs were judged at, seconds since the epoch. */
  at: z.int(),
  /** The node replicates every range of its datacenter (replicas = nodes): its empty ranges count. */
  replicatesAll: z.boolean().optional(),
});

/** One archived table. */
export const shippedTableSchema = z.strictObject({
  keyspace: cqlName('keyspace'),
  table: cqlName('table'),
  /** The table's folder name in the data directory (`<table>-<id>`). */
  tableDir: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/),
  /** The archive at the destination. */
  path: destPath,
  size: z.int().nonnegative(),
  sha256,
  /** Bytes of SSTables archived. */
  bytesIn: z.int().nonnegative(),
  /** Rows this node held at the cut (absent when counting is off). */
  count: tableRowCountSchema.optional(),
});

/** The cassandra part of one node. */
export const cassandraPartSchema = z.strictObject({
  compression: z.enum(COMPRESSIONS),
  keyspaces: z.array(cqlName('keyspace')),
  tables: z.array(shippedTableSchema),
  /** The SSTable files inside every archive, with their sha256 (`contents.json`). */
  contents: fileRef,
  summary: z.string(),
});

/** One file inside a table archive. */
export const archivedFileSchema = z.strictObject({
  path: z.string().min(1).max(1024),
  size: z.int().nonnegative(),
  sha256,
});

/** `<id>/<node>/cassandra/contents.json`: per `<keyspace>.<table>`, the files of its archive. */
export const sstableContentsSchema = z.strictObject({
  format: z.literal('tandem.sstable-contents/v1'),
  tables: z.record(nameSchema('<keyspace>.<table>', QUALIFIED_TABLE), z.array(archivedFileSchema)),
});

export type CassandraCommit = z.output<typeof cassandraCommitSchema>;
export type TableRowCount = z.output<typeof tableRowCountSchema>;
export type ShippedTable = z.output<typeof shippedTableSchema>;
export type CassandraPart = z.output<typeof cassandraPartSchema>;
export type ArchivedFile = z.output<typeof archivedFileSchema>;
export type SstableContents = z.output<typeof sstableContentsSchema>;
