/**
 * The cassandra role's records: what Commit took (the cut) and what ship stored (the part), as
 * written into `part.json` and the manifest; and `contents.json`, the SSTable files inside each
 * table archive, which can be many and so live beside the archives rather than in the manifest.
 */
import { z } from 'zod';
import { COMPRESSIONS } from '../contract';
import { BACKUP_ID, CQL_NAME, nameSchema, QUALIFIED_TABLE, SNAPSHOT_TAG } from '../names';
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
  /** Earlier sets' archives this table's SSTables are also read from (0: the archive holds them all). */
  chain: z.int().nonnegative(),
  /** Bytes of SSTable components kept in those earlier archives rather than archived again. */
  bytesReused: z.int().nonnegative(),
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

/** An SSTable's name in a snapshot: `<version>-<generation>-<format>`, under a secondary index's `.<index>/` folder if any. */
export const SSTABLE_NAME = /^(?:\.[A-Za-z0-9_]{1,64}\/)?[a-z]{2}-[0-9a-z_]{1,64}-[a-z]{2,8}$/;

const backupId = nameSchema('backup id', BACKUP_ID);

/**
 * One SSTable of the snapshot and where its immutable components are stored. SSTables never change
 * once written, so a later set that finds the same one (same table folder, name, Data size and
 * mtime, and Cassandra's own CRC of the Data component) keeps this record instead of archiving it
 * again; `dataSha256` is the checksum taken when it was first archived.
 */
export const sstableRecordSchema = z.strictObject({
  name: z.string().regex(SSTABLE_NAME, 'must be an SSTable name such as nb-1-big'),
  dataSize: z.int().nonnegative(),
  dataMtimeMs: z.int().nonnegative(),
  /** The CRC32 Cassandra wrote in `Digest.crc32`; null when the SSTable has none. */
  digest: z.string().regex(/^\d{1,10}$/).nullable(),
  dataSha256: sha256,
  /** The set whose archive holds the immutable components, and that archive. */
  set: backupId,
  archive: destPath,
  /** Components stored in that archive (the rewritten-in-place ones, Statistics and Summary, are in every set's own archive). */
  components: z.array(archivedFileSchema),
});

/** An archive a table's restore reads: this set's own, or an earlier set's. */
export const tableArchiveSchema = fileRef.extend({
  set: backupId,
  /** Bytes of files inside it. */
  bytesIn: z.int().nonnegative(),
});

/** One table of `contents.json`. */
export const tableContentsSchema = z.strictObject({
  /** Files inside this set's archive. */
  files: z.array(archivedFileSchema),
  /** Every SSTable of the snapshot, with the archive holding its immutable components. */
  sstables: z.array(sstableRecordSchema),
  /** Every archive the table is restored from, this set's first. */
  archives: z.array(tableArchiveSchema).min(1),
});

/** `<id>/<node>/cassandra/contents.json`: per `<keyspace>.<table>`, its files and SSTables. */
export const sstableContentsSchema = z.strictObject({
  format: z.literal('tandem.sstable-contents/v2'),
  tables: z.record(nameSchema('<keyspace>.<table>', QUALIFIED_TABLE), tableContentsSchema),
});

export type CassandraCommit = z.output<typeof cassandraCommitSchema>;
export type TableRowCount = z.output<typeof tableRowCountSchema>;
export type ShippedTable = z.output<typeof shippedTableSchema>;
export type CassandraPart = z.output<typeof cassandraPartSchema>;
export type ArchivedFile = z.output<typeof archivedFileSchema>;
export type SstableContents = z.output<typeof sstableContentsSchema>;
export type SstableRecord = z.output<typeof sstableRecordSchema>;
export type TableArchive = z.output<typeof tableArchiveSchema>;
export type TableContents = z.output<typeof tableContentsSchema>;
