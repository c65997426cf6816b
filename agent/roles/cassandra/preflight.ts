/** The cassandra role's checks, run in Prepare: any failure is a "no" vote with a reason to act on. */
import { access, constants, statfs } from 'node:fs/promises';
import { errorMessage } from '../../../shared/errors';
import { formatBytes } from '../../../shared/format';
import { hasProgram } from '../../archive';
import type { CheckResult, RoleContext } from '../role';
import type { CassandraSettings } from './config';
import { replicasPerDc, replication, withSession } from './cql';
import type { RingNode } from './nodetool';

/** What the checks ask the node (the helper JVM answers, over JMX). */
export interface RingSource {
  ring(): Promise<RingNode[]>;
  schemaVersions(): Promise<Record<string, string[]>>;
}
import { keyspaceBytes } from './snapshot-files';

const check = (name: string, ok: boolean, message: string): CheckResult => ({ name, ok, message });

/** Runs every check; never throws. java is checked by the ring check: the helper JVM answers it. */
export async function cassandraPreflight(s: CassandraSettings, node: RingSource, ctx: RoleContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const tools = await Promise.all([
    // nodetool only runs the repair; everything else goes through the helper JVM.
    ctx.options.repair ? access(s.nodetool, constants.X_OK).then(() => null, () => `nodetool not executable at ${s.nodetool} (roles.cassandra.nodetool), needed by repair=true`) : null,
    // xz runs in-process (lzma-native) and none needs nothing: only bzip2 needs a program.
    ctx.options.compression === 'bzip2'
      ? Promise.all([hasProgram('lbzip2'), hasProgram('pbzip2'), hasProgram('bzip2')]).then((h) => (h.some(Boolean) ? null : 'no bzip2 compressor (install lbzip2 or bzip2)'))
      : null,
  ]);
  const missing = tools.filter((t): t is string => !!t);
  out.push(check('tools', missing.length === 0, missing.join('; ') || 'the programs this backup runs are present'));

  let dcs: string[] = [];
  let nodesPerDc: Record<string, number> = {};
  let localDc: string | undefined = s.cql.localDataCenter;
  try {
    const ring = await node.ring();
    const down = ring.filter((n) => n.state !== 'UN');
    dcs = [...new Set(ring.map((n) => n.datacenter))];
    localDc ??= ring.find((n) => n.address === s.cql.host)?.datacenter ?? dcs[0];
    nodesPerDc = Object.fromEntries(dcs.map((dc) => [dc, ring.filter((n) => n.datacenter === dc).length]));
    out.push(check('ring', ring.length > 0 && down.length === 0,
      down.length ? `nodes not Up/Normal: ${down.map((n) => `${n.address} ${n.state}`).join(', ')}; bring them back before a backup` : `${ring.length} nodes UN`));
  } catch (err) {
    out.push(check('ring', false, `cannot read the ring: ${errorMessage(err)}; is Cassandra running on this host, with JMX at roles.cassandra.jmx?`));
  }
  try {
    const versions = await node.schemaVersions();
    const n = Object.keys(versions).length;
    out.push(check('schema agreement', n === 1, n === 1 ? 'one schema version' : `schema disagreement: ${JSON.stringify(versions)}; wait or run nodetool describecluster`));
  } catch (err) {
    out.push(check('schema agreement', false, `cannot read the schema versions: ${errorMessage(err)}`));
  }
  if (dcs.length && !ctx.options.allKeyspaces) {
    try {
      const rep = await withSession(s, (c) => replication(c, s.keyspace), localDc);
      if (!rep) out.push(check('keyspace', false, `keyspace ${s.keyspace} does not exist (roles.cassandra.keyspace, TheHive's db.janusgraph.storage.cql.keyspace)`));
      else {
        const per = replicasPerDc(rep, dcs);
        const short = dcs.filter((dc) => per[dc] < nodesPerDc[dc]);
        const allowed = ctx.options.allowLowRf;
        out.push(check('replication', short.length === 0 || allowed, short.length
          ? `keyspace ${s.keyspace} has replication ${JSON.stringify(per)} for ${JSON.stringify(nodesPerDc)} nodes: every node must hold all data (ALTER KEYSPACE … replication = ${nodesPerDc[short[0]]}), or pass --option allow_low_rf=true`
          : `replication ${JSON.stringify(per)} covers every node`));
      }
    } catch (err) {
      out.push(check('keyspace', false, `cannot read keyspace ${s.keyspace} over CQL at ${s.cql.host}:${s.cql.port}: ${errorMessage(err)}`));
    }
  }
  try {
    const fs = await statfs(s.dataDir);
    const free = fs.bavail * fs.bsize;
    // Snapshots are hard links; the flush before them and the archive staging need some room.
    const need = Math.ceil((await keyspaceBytes(s.dataDir, s.keyspace)) * 0.2) + 64 * 1024 * 1024;
    out.push(check('disk', free >= need, `${formatBytes(free)} free in ${s.dataDir}, ${formatBytes(need)} needed`));
  } catch (err) {
    out.push(check('disk', false, `cannot read ${s.dataDir}: ${errorMessage(err)}`));
  }
  return out;
}
