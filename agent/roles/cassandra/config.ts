/** Settings of the cassandra role, under `roles.cassandra` in agent.yaml. */
import { z } from 'zod';
import { absolutePath } from '../../../shared/config/common';
import { captureCluster, captureDestination, captureRecipients } from '../../../shared/config/capture';
import { CQL_NAME } from '../../../shared/names';

/**
 * The continuous capture of this node's commitlog for point-in-time recovery (docs/point-in-time.md):
 * off by default. It needs cdc_enabled: true in cassandra.yaml and TheHive's tables WITH cdc = true.
 */
export const captureSettings = z
  .strictObject({
    /** Capture the commitlog continuously; default false. */
    enabled: z.boolean().default(false),
    /** Cassandra's cdc_raw_directory; default /var/lib/cassandra/cdc_raw. */
    cdcRawDirectory: absolutePath.default('/var/lib/cassandra/cdc_raw'),
    /** Milliseconds between two looks at cdc_raw when no change wakes the capture sooner; default 10 000 (1 000 to 600 000). */
    captureIntervalMs: z.number().int().min(1000).max(600_000).default(10_000),
    /** The cluster's name in the capture's folder at the destination (tandem_capture/<cluster>/<node>); default thehive. */
    cluster: captureCluster,
    /** Where the capture goes: a destination as in the fleet file (local, rsync or s3; S3 keys from destinationCredentials). */
    destination: captureDestination.optional(),
    /** The fleet's age recipients: every piece is encrypted (shared/config/capture.ts); absent, stored in clear. */
    recipients: captureRecipients,
  })
  .refine((c) => !c.enabled || c.destination !== undefined, { message: 'capture.enabled needs capture.destination: where the commitlog pieces go (the fleet\'s destination, as in tandem.yaml)', path: ['destination'] });

/** The validated capture settings. */
export type CaptureSettings = z.output<typeof captureSettings>;

/** The cassandra role's settings schema. */
export const cassandraSettings = z.strictObject({
  /** The nodetool program of this host; default /usr/bin/nodetool. */
  nodetool: absolutePath.default('/usr/bin/nodetool'),
  /** The sstableloader program, for restores onto another topology; default /usr/bin/sstableloader. */
  sstableloader: absolutePath.default('/usr/bin/sstableloader'),
  /** Cassandra's data folder (data_file_directories); default /var/lib/cassandra/data. */
  dataDir: absolutePath.default('/var/lib/cassandra/data'),
  /** TheHive's keyspace (db.janusgraph.storage.cql.keyspace); default thehive. */
  keyspace: z.string().regex(CQL_NAME).default('thehive'),
  /** Local JMX endpoint of this node, for the ring, the snapshot and imports; default 127.0.0.1:7199. */
  jmx: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(1).max(65535).default(7199) }).prefault({}),
  /** CQL endpoint of this node, for schema, replication and ring; default 127.0.0.1:9042. */
  cql: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(1).max(65535).default(9042),
      username: z.string().optional(),
      /** Name of an environment variable holding the password (never the password itself). */
      passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
      /** Local datacenter name for the driver; default: read from nodetool status. */
      localDataCenter: z.string().optional(),
    })
    .prefault({}),
  /** The java (JDK 11+) that runs the helper JVM; default java (Cassandra's own JVM). */
  java: z.string().default('java'),
  /** Cassandra's jars, for the offline row counter; default: where the Debian/RPM packages put them. */
  classpath: z.string().min(1).default('/usr/share/cassandra/*:/usr/share/cassandra/lib/*'),
  /** Minutes the helper JVM (JMX calls, row counts) stays up without work; 0 keeps it running. Default 30. */
  helperIdleMinutes: z.number().int().min(0).max(7 * 24 * 60).default(30),
  /** Count each table's rows in the snapshot (recorded in the manifest, checked after a restore); default true. */
  countRows: z.boolean().default(true),
  /** Tables archived at once; default 2. */
  parallelism: z.number().int().min(1).max(32).default(2),
  /** Compressor threads per archive; default: the host's CPU count. */
  compressionThreads: z.number().int().min(1).max(256).optional(),
  /** The continuous commitlog capture (point-in-time recovery); off by default. */
  capture: captureSettings.prefault({}),
});

/** The validated settings of the cassandra role. */
export type CassandraSettings = z.output<typeof cassandraSettings>;
