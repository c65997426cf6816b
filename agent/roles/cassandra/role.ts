/**
 * The cassandra role: preflight and a flush in Prepare, an instant snapshot at Commit, per-table
 * archives shipped to the destination, the snapshot cleared after. Every call to the node goes
 * through the agent's warm helper JVM (helper.ts); nodetool is left the repair.
 */
import { cassandraContentsPath, ringPath, roleFolder, schemaCqlPath } from '../../../shared/destination/layout';
import { writeReferenced } from '../../../shared/parts/io';
import { errorMessage } from '../../../shared/errors';
import { systemExec, type Exec } from '../../../shared/exec';
import type { Logger } from '../../../shared/log';
import { checkTag } from '../../../shared/names';
import { cassandraCommitSchema, type CassandraCommit, type CassandraPart, type SstableContents } from '../../../shared/parts/cassandra';
import type { RestorableRole, RestoreContext, RestorePhase, RoleContext, ShipResult } from '../role';
import type { RoleHost } from '../plugin';
import { join } from 'node:path';
import { restoreCassandra } from './restore';
import type { CassandraSettings } from './config';
import { describeKeyspace, localDataCenter, replicasPerDc, replication, ringMap, useRingSource, withSession, type Ring } from './cql';
import { countRows, type TableCounter } from './row-count';
import { Nodetool } from './nodetool';
import { cassandraPreflight } from './preflight';
import { parentTables } from './parent-tables';
import { planTables, shipTables } from './ship';
import { findTableSnapshots } from './snapshot-files';
import { CassandraHelper } from './helper';
import { readdir } from 'node:fs/promises';
import { CQL_NAME } from '../../../shared/names';

/** Prefix of every snapshot tag tandem creates, so debris can be recognised after a crash. */
export const TAG_PREFIX = 'tandem-';

/** Creates the cassandra role; every program it runs (nodetool, java, sstableloader, bzip2) goes through `exec`. */
export function cassandraRole(s: CassandraSettings, exec: Exec = systemExec, host: RoleHost = { stateDir: null }): RestorableRole {
  const nodetool = new Nodetool(s.nodetool, exec.run);
  const helper = new CassandraHelper({
    java: s.java, jmx: s.jmx, classpath: s.classpath, env: {}, exec, idleMs: s.helperIdleMinutes * 60_000,
    classCache: host.stateDir ? join(host.stateDir, 'java-classes') : null,
  });
  useRingSource(s, helper.ring);
  /** Snapshot tags of backups this process prepared: never debris to its own recover(). */
  const ownTags = new Set<string>();
  let versionCache: Record<string, string> | undefined;

  const keyspacesOf = async (ctx: RoleContext): Promise<string[]> =>
    ctx.options.allKeyspaces
      ? (await readdir(s.dataDir)).filter((k) => CQL_NAME.test(k)).sort()
      : [s.keyspace];

  return {
    name: 'cassandra',
    // The snapshot sets the spread across nodes: it leaves before this node's other cuts.
    leadsCut: true,
    async versions() {
      versionCache ??= { cassandra: await helper.version().catch(() => 'unknown') };
      return versionCache;
    },
    preflight: (ctx) => cassandraPreflight(s, helper, ctx),
    async prepare(ctx) {
      checkTag(ctx.tag);
      ownTags.add(ctx.tag);
      helper.hold(ctx.backupId);
      if (ctx.options.repair) {
        ctx.progress({ phase: 'repair' });
        await nodetool.repair(s.keyspace, ctx.signal);
      }
      // What the memtables hold now is written here, before the vote: the snapshot's own flush
      // at Commit then only has the last moments' writes, and every node cuts within a few ms.
      for (const k of await keyspacesOf(ctx)) await helper.flush(k);
    },
    async commit(ctx): Promise<CassandraCommit> {
      const keyspaces = ctx.options.allKeyspaces ? [] : [s.keyspace];
      const t = await helper.snapshot(ctx.tag, keyspaces, ctx.cutStarted);
      ctx.span({ phase: 'snapshot', startedAt: t.startedAt, endedAt: t.endedAt });
      const found = (await Promise.all((await keyspacesOf(ctx)).map((k) => findTableSnapshots(s.dataDir, k, ctx.tag)))).flat();
      const created = found.map((f) => f.createdAt).filter((x): x is number => x !== null);
      return {
        tag: ctx.tag,
        keyspaces: keyspaces.length ? keyspaces : ['*'],
        cutAt: created.length ? Math.min(...created) : t.startedAt,
        requestedAt: t.startedAt,
        returnedAt: t.endedAt,
        tables: found.length,
      };
    },
    async ship(ctx, commitRecord): Promise<ShipResult> {
      const compression = ctx.options.compression;
      const tables = (await Promise.all((await keyspacesOf(ctx)).map((k) => findTableSnapshots(s.dataDir, k, ctx.tag)))).flat();
      if (!tables.length) throw new Error(`no snapshot ${ctx.tag} found under ${s.dataDir}`);
      const keyspaces = [...new Set(tables.map((t) => t.keyspace))];
      const cluster = await readClusterFacts(s, keyspaces);
      const cutAt = cassandraCommitSchema.parse(commitRecord).cutAt;
      const parent = await parentTables(ctx);
      const plans = await planTables(ctx, tables, parent.tables, ctx.options);
      // A table whose SSTables are all the parent's holds what the parent counted: only the others are read again.
      const reusedCount = (i: number) => (plans[i].unchanged ? parent.counts.get(`${tables[i].keyspace}.${tables[i].table}`) : undefined);
      const toCount = tables.filter((_, i) => !reusedCount(i));
      // Counting reads the same snapshot files as the archiver, at the same time: one pass of the disk cache.
      const [shipped, fresh] = await Promise.all([
        shipTables(ctx, tables, plans, { compression, parallelism: s.parallelism, threads: s.compressionThreads, spawn: exec.spawn }),
        s.countRows && toCount.length ? timedCount(ctx, () => countSnapshotRows((f, at, t) => helper.count(f, at, t), cluster, toCount, cutAt, ctx.signal)) : Promise.resolve([]),
      ]);
      const counts = s.countRows ? tables.map((t, i) => reusedCount(i) ?? fresh[toCount.indexOf(t)]) : null;
      const extra = await writeSchemaAndRing(ctx, cluster);
      // The files inside each archive can number in the thousands: beside the archives, not in the manifest.
      const contents: SstableContents = { format: 'tandem.sstable-contents/v2', tables: Object.fromEntries(shipped.map((t) => [`${t.keyspace}.${t.table}`, t.contents])) };
      const contentsRef = await putJson(ctx, cassandraContentsPath(ctx.backupId, ctx.node), contents);
      const reused = shipped.reduce((n, t) => n + t.bytesReused, 0);
      const part: CassandraPart = {
        compression,
        keyspaces,
        tables: shipped.map(({ contents: _c, ...t }, i) => (counts?.[i] ? { ...t, count: counts[i] } : t)),
        contents: contentsRef,
        summary: `${shipped.length} tables, ${shipped.reduce((n, t) => n + t.bytesIn, 0)} bytes archived` +
          (reused ? `, ${reused} bytes of SSTables kept in earlier sets` : '') +
          (counts ? `, ${counts.reduce((n, c) => n + (c?.rows ?? 0), 0)} rows` : ''),
      };
      const references = [...new Map(shipped.flatMap((t) => t.contents.archives.filter((a) => a.set !== ctx.backupId)).map((a) => [a.path, a])).values()]
        .map(({ path, size, sha256, set }) => ({ path, size, sha256, set }));
      return { part, files: [...shipped.map((t) => ({ path: t.path, size: t.size, sha256: t.sha256 })), ...extra, contentsRef], references };
    },
    async cleanup(ctx) {
      try {
        // keep_snapshot leaves the local snapshot for the operator (or a test) to inspect; it is
        // still cleared as debris at the agent's next start.
        if (ctx.options.keepSnapshot) return;
        for (const k of await keyspacesOf(ctx)) await helper.clearSnapshot(ctx.tag, k);
      } finally {
        helper.release(ctx.backupId);
      }
    },
    async abort(ctx) {
      await ctx.destination.remove(roleFolder(ctx.backupId, ctx.node, 'cassandra'));
    },
    restore: (phase: RestorePhase, ctx: RestoreContext) => restoreCassandra(s, phase, ctx, helper, exec),
    health: (signal) => helper.reachable(signal),
    async recover(activeTag: string | null, log: Logger) {
      // In the background: the helper JVM is compiled and started first (seconds on a busy host),
      // and the agent serves meanwhile. A backup begun since is never taken for debris: its tag
      // is among those this process prepared.
      void (async () => {
        try {
          for (const { tag, keyspace } of await helper.snapshotTags()) {
            if (tag.startsWith(TAG_PREFIX) && tag !== activeTag && !ownTags.has(tag) && CQL_NAME.test(keyspace)) {
              log.warn({ tag, keyspace }, 'clearing a snapshot left by an earlier run');
              await helper.clearSnapshot(checkTag(tag), keyspace);
            }
          }
        } catch (err) {
          log.error({ err: errorMessage(err) }, 'cannot list snapshots to clear debris; will retry at the next start');
        }
      })();
    },
  };
}

/** What ship reads over CQL, in one session: the ring, this node's datacenter, each keyspace's replication and schema. */
interface ClusterFacts {
  ring: Ring;
  datacenter: string;
  replication: Map<string, Record<string, string> | null>;
  schema: Map<string, string>;
}

async function readClusterFacts(s: CassandraSettings, keyspaces: string[]): Promise<ClusterFacts> {
  const datacenter = await localDataCenter(s);
  return withSession(s, async (c) => {
    const facts: ClusterFacts = { ring: await ringMap(c), datacenter, replication: new Map(), schema: new Map() };
    for (const k of keyspaces) {
      facts.replication.set(k, await replication(c, k));
      if (!k.startsWith('system')) facts.schema.set(k, await describeKeyspace(c, k));
    }
    return facts;
  }, datacenter);
}

/** Rows of each table snapshot at the cut, per range of this node's datacenter ring. */
async function countSnapshotRows(counter: TableCounter, cluster: ClusterFacts, tables: { keyspace: string; dir: string }[], cutAt: number, signal: AbortSignal) {
  const { datacenter } = cluster;
  const dcNodes = cluster.ring.filter((n) => n.datacenter === datacenter);
  // When a keyspace has as many replicas in the datacenter as it has nodes, every node holds every
  // range: a node's empty range then disagrees with a replica that holds rows there.
  const replicatesAll = (k: string) => {
    const rep = cluster.replication.get(k);
    return rep != null && (replicasPerDc(rep, [datacenter])[datacenter] ?? 0) >= dcNodes.length;
  };
  const counts = await countRows(counter, tables.map((t) => [t.dir]), { at: Math.floor(cutAt / 1000), datacenter, ringTokens: dcNodes.flatMap((n) => n.tokens), signal });
  return counts.map((c, i) => {
    const all = replicatesAll(tables[i].keyspace);
    // Empty ranges say something only for a node that replicates every range; elsewhere they would only fill the manifest.
    const ranges = c.ranges && !all ? Object.fromEntries(Object.entries(c.ranges).filter(([, n]) => n > 0)) : c.ranges;
    return { ...c, ranges, replicatesAll: all };
  });
}

/** Counts the rows, as a span of the backup's timeline. */
async function timedCount<T extends unknown[]>(ctx: RoleContext, count: () => Promise<T>): Promise<T> {
  const startedAt = Date.now();
  const counts = await count();
  ctx.span({ phase: 'count', startedAt, endedAt: Date.now() });
  return counts;
}

/** Writes a JSON document atomically; returns its reference. */
const putJson = (ctx: RoleContext, path: string, doc: unknown) => writeReferenced(ctx.destination, path, JSON.stringify(doc) + '\n');

/** Writes `schema.cql` per keyspace and `ring.json` for the node; returns their manifest entries. */
async function writeSchemaAndRing(ctx: RoleContext, cluster: ClusterFacts) {
  const out: { path: string; size: number; sha256: string }[] = [];
  const put = async (path: string, body: string) => void out.push(await writeReferenced(ctx.destination, path, body));
  for (const [k, cql] of cluster.schema) await put(schemaCqlPath(ctx.backupId, ctx.node, k), cql);
  await put(ringPath(ctx.backupId, ctx.node), JSON.stringify(cluster.ring, null, 1) + '\n');
  return out;
}
