/**
 * The restore plan: which agent does what in each phase, printed to the operator before anything
 * is dropped, deleted or loaded.
 */
import { nodesWith, type Manifest } from '../../shared/manifest';
import { ValidationError } from '../../shared/errors';
import { formatBytes } from '../../shared/format';
import { checkCqlName } from '../../shared/names';
import { parseReplicationFlag, parseRestoreOptions, type RestoreOptions, type RestoreOptionsInput } from '../../shared/wire/restore';
import type { AgentEntry } from '../config';

/** What the operator asked for. */
export interface RestoreRequestOptions {
  /** Restore Cassandra into this keyspace instead of the one backed up (a drill's scratch copy). */
  targetKeyspace?: string;
  /** Drop the target keyspace before recreating it; otherwise its tables are truncated. */
  dropKeyspace?: boolean;
  /** Restore Elasticsearch indices under this prefix instead of over the originals. */
  indexPrefix?: string;
  /** Restore files into this folder (on the files host) instead of TheHive's. */
  filesTarget?: string;
  /** Restore a bucket set's objects into this bucket instead of TheHive's (created when missing). */
  filesBucket?: string;
  /** Use sstableloader even when the topology matches. */
  forceLoader?: boolean;
  /** Replication of the recreated keyspace, `DC:RF[,DC:RF]` (another topology). */
  replication?: string;
  /** Remove files the backup does not hold from the files target. */
  filesClean?: boolean;
  /** Have TheHive rebuild its index at its next start (the flag in application.conf). */
  rebuildIndex?: boolean;
  /** Tear the scratch copy down in the cleanup phase (drills). */
  dropScratch?: boolean;
}

/** One agent's part in the restore. */
export interface RestoreStep {
  /** The agent's node name in the fleet. */
  node: string;
  options: RestoreOptions;
}

/** The whole plan. */
export interface RestorePlan {
  steps: RestoreStep[];
  /** What will happen, one line each, for the operator. */
  lines: string[];
  /** True when each node loads its own SSTables (same node names as at backup time). */
  sameTopology: boolean;
}

/** Builds the plan for restoring the manifest onto the fleet's agents. */
export function planRestore(m: Manifest, agents: readonly AgentEntry[], o: RestoreRequestOptions): RestorePlan {
  const cassAgents = agents.filter((a) => a.roles.includes('cassandra'));
  const cassNodes = nodesWith(m, 'cassandra').map((n) => n.node);
  const sameTopology = !o.forceLoader && cassAgents.length === cassNodes.length && cassAgents.every((a) => cassNodes.includes(a.node));
  const esAgent = agents.find((a) => a.roles.includes('elasticsearch'));
  const filesAgent = agents.find((a) => a.roles.includes('files'));
  const keyspaces = [...new Set(nodesWith(m, 'cassandra').flatMap((n) => n.parts.cassandra.keyspaces))];
  const target = o.targetKeyspace ? checkCqlName(o.targetKeyspace) : undefined;
  const common: RestoreOptionsInput = {
    targetKeyspace: target,
    dropKeyspace: o.dropKeyspace,
    indexPrefix: o.indexPrefix,
    filesTarget: o.filesTarget,
    filesBucket: o.filesBucket,
    dropScratch: o.dropScratch,
    rebuildIndex: o.rebuildIndex,
    replication: o.replication ? parseReplicationFlag(o.replication) : [],
    filesClean: o.filesClean,
  };
  const lines: string[] = [];
  const steps = agents.map((a): RestoreStep => {
    const opt: RestoreOptionsInput = { ...common, skipRoles: [] };
    const isCass = cassAgents.includes(a);
    if (isCass && sameTopology) {
      opt.cassandraSources = [a.node];
      opt.cassandraLoad = 'import';
    } else if (isCass && a === cassAgents[0]) {
      opt.cassandraSources = cassNodes;
      opt.cassandraLoad = 'sstableloader';
    } else opt.skipRoles!.push('cassandra');
    if (isCass && a === cassAgents[0]) opt.createSchema = true;
    if (a !== esAgent) opt.skipRoles!.push('elasticsearch');
    if (a !== filesAgent) opt.skipRoles!.push('files');
    // The same checks as at the agent: a bad flag is refused here, before any RPC.
    return { node: a.node, options: parseRestoreOptions(opt, 'restore options') };
  });
  const ksTo = (k: string) => target ?? k;
  if (cassAgents.length) {
    const first = cassAgents[0].node;
    for (const k of keyspaces) {
      // With auto_snapshot on (Cassandra's default), DROP and TRUNCATE keep the replaced data as snapshots on every node.
      const kept = target && o.dropScratch
        ? ''
        : ` (Cassandra keeps the replaced data as ${o.dropKeyspace ? 'dropped' : 'truncated'}-* snapshots on every node: tandem clears them once the restore has verified, and keeps them, the way back, if it does not)`;
      lines.push(o.dropKeyspace
        ? `${first}: DROP KEYSPACE ${ksTo(k)} and recreate it from ${k}'s schema.cql${kept}`
        : `${first}: create keyspace ${ksTo(k)} from schema.cql if missing, TRUNCATE the restored tables if it exists${kept}`);
      if (o.replication) lines.push(`${first}: replication of ${ksTo(k)} set to ${o.replication} (NetworkTopologyStrategy)`);
    }
    for (const s of steps.filter((x) => x.options.cassandraSources.length)) {
      const srcs = s.options.cassandraSources;
      const tables = nodesWith(m, 'cassandra').filter((n) => srcs.includes(n.node)).flatMap((n) => n.parts.cassandra.tables);
      lines.push(`${s.node}: fetch ${tables.length} table archives (${formatBytes(tables.reduce((n, t) => n + t.size, 0))}) of ${srcs.join(', ')}, ` +
        `load with ${s.options.cassandraLoad === 'import' ? 'nodetool import' : 'sstableloader'} into ${keyspaces.map(ksTo).join(', ')}`);
    }
  } else if (cassNodes.length) lines.push('no agent with the cassandra role: the Cassandra part is NOT restored');
  const es = nodesWith(m, 'elasticsearch')[0]?.parts.elasticsearch;
  if (es && esAgent) {
    if ('skipped' in es) {
      if (!o.rebuildIndex) lines.push(`${esAgent.node}: the index was not backed up (--skip-index): TheHive's index must be rebuilt (--rebuild-index does it at TheHive's next start)`);
    } else {
      lines.push(o.indexPrefix
        ? `${esAgent.node}: restore snapshot ${es.snapshot} (${es.repository.name}) as ${es.indices.map((i) => o.indexPrefix + i).join(', ')}`
        : `${esAgent.node}: DELETE indices ${es.indices.join(', ')} and restore snapshot ${es.snapshot} from repository ${es.repository.name}`);
    }
  }
  if (o.rebuildIndex && esAgent) {
    lines.push(`${esAgent.node}: add db.janusgraph.forceDropAndRebuildIndex = true to TheHive's application.conf: TheHive rebuilds its index from Cassandra at its next start`);
  } else if (o.rebuildIndex) throw new ValidationError('--rebuild-index: no agent of the fleet has the elasticsearch role (its theHiveConfig names the file to change)');
  const files = nodesWith(m, 'files')[0]?.parts.files;
  if (filesAgent && files) {
    // The listing holds the attachments earlier sets store too: the restore copies them all.
    const all = { files: files.fileCount + (files.referenced?.files ?? 0), bytes: files.bytes + (files.referenced?.bytes ?? 0) };
    const kept = files.referenced?.files ? `; ${files.referenced.files} of them from the earlier sets that store them` : '';
    if (files.store === 's3') {
      if (o.filesClean) throw new ValidationError('--files-clean: the files of this set are a bucket\'s objects; a bucket restore puts the set\'s objects back and removes none');
      // A scratch copy of a bucket set needs a scratch bucket: a folder target does not apply to objects.
      if (!o.filesBucket && (o.filesTarget || o.dropScratch)) throw new ValidationError(`the files of this set are a bucket's objects: ${o.dropScratch ? 'a drill' : '--files-target'} needs a scratch bucket (--files-bucket NAME), or the objects would be loaded into TheHive's live bucket`);
      lines.push(`${filesAgent.node}: put ${all.files} objects (${formatBytes(all.bytes)}${kept}) into ${o.filesBucket ? `bucket ${o.filesBucket}${o.dropScratch ? ' (created, dropped after)' : ''}` : 'TheHive\'s bucket'}` +
        '');
    } else {
      if (o.filesBucket && !o.filesTarget) throw new ValidationError('--files-bucket: the files of this set are a folder; give --files-target FOLDER for a scratch copy');
      lines.push(`${filesAgent.node}: copy ${all.files} files (${formatBytes(all.bytes)}${kept}) into ${o.filesTarget ?? 'TheHive\'s files folder'}, restoring owner and mode` +
        (o.filesClean ? '; REMOVE every file there the backup does not hold' : ''));
    }
  }
  lines.push('then check rows per table, documents per index and every file\'s sha256 against the backup');
  if (o.dropScratch) lines.push('then drop the scratch keyspace, indices and folder, and clear the dropped-* snapshots the drop makes every node take');
  return { steps, lines, sameTopology };
}
