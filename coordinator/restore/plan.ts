/**
 * The restore plan: which agent does what in each phase, printed to the operator before anything
 * is dropped, deleted or loaded.
 */
import type { Manifest } from '../../shared/manifest';
import { ValidationError } from '../../shared/errors';
import { formatBytes } from '../../shared/format';
import { checkCqlName } from '../../shared/names';
import type { AgentHandle } from '../fleet';

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
  agent: AgentHandle;
  options: Record<string, string>;
}

/** The whole plan. */
export interface RestorePlan {
  steps: RestoreStep[];
  /** What will happen, one line each, for the operator. */
  lines: string[];
  /** True when each node loads its own SSTables (same node names as at backup time). */
  sameTopology: boolean;
}

const withRole = (m: Manifest, role: string) => m.nodes.filter((n) => role in n.parts);

/** Builds the plan for restoring the manifest onto the fleet's agents. */
export function planRestore(m: Manifest, agents: readonly AgentHandle[], o: RestoreRequestOptions): RestorePlan {
  const cassAgents = agents.filter((a) => a.entry.roles.includes('cassandra'));
  const cassNodes = withRole(m, 'cassandra').map((n) => n.node);
  const sameTopology = !o.forceLoader && cassAgents.length === cassNodes.length && cassAgents.every((a) => cassNodes.includes(a.node));
  const esAgent = agents.find((a) => a.entry.roles.includes('elasticsearch'));
  const filesAgent = agents.find((a) => a.entry.roles.includes('files'));
  const keyspaces = [...new Set(m.nodes.flatMap((n) => ((n.parts.cassandra as { keyspaces?: string[] })?.keyspaces ?? [])))];
  const target = o.targetKeyspace ? checkCqlName(o.targetKeyspace) : undefined;
  const common: Record<string, string> = {};
  if (target) common.target_keyspace = target;
  if (o.dropKeyspace) common.drop_keyspace = 'true';
  if (o.indexPrefix) common.index_prefix = o.indexPrefix;
  if (o.filesTarget) common.files_target = o.filesTarget;
  if (o.dropScratch) common.drop_scratch = 'true';
  if (o.rebuildIndex) common.rebuild_index = 'true';
  if (o.replication) common.replication = o.replication;
  if (o.filesClean) common.files_clean = 'true';
  const lines: string[] = [];
  const steps = agents.map((a): RestoreStep => {
    const opt: Record<string, string> = { ...common };
    const isCass = cassAgents.includes(a);
    if (isCass && sameTopology) {
      opt.cassandra_sources = a.node;
      opt.cassandra_mode = 'import';
    } else if (isCass && a === cassAgents[0]) {
      opt.cassandra_sources = cassNodes.join(',');
      opt.cassandra_mode = 'sstableloader';
    } else opt.skip_cassandra = 'true';
    if (isCass && a === cassAgents[0]) opt.schema = 'true';
    if (a !== esAgent) opt.skip_elasticsearch = 'true';
    if (a !== filesAgent) opt.skip_files = 'true';
    return { agent: a, options: opt };
  });
  const ksTo = (k: string) => target ?? k;
  if (cassAgents.length) {
    const first = cassAgents[0].node;
    for (const k of keyspaces) {
      lines.push(o.dropKeyspace
        ? `${first}: DROP KEYSPACE ${ksTo(k)} and recreate it from ${k}'s schema.cql (with auto_snapshot on, Cassandra keeps the dropped ` +
          `data as snapshots dropped-*: a way back, which holds disk until \`nodetool clearsnapshot\`)`
        : `${first}: create keyspace ${ksTo(k)} from schema.cql if missing, TRUNCATE the restored tables if it exists`);
      if (o.replication) lines.push(`${first}: replication of ${ksTo(k)} set to ${o.replication} (NetworkTopologyStrategy)`);
    }
    for (const s of steps.filter((x) => x.options.cassandra_sources)) {
      const srcs = s.options.cassandra_sources.split(',');
      const tables = m.files.filter((f) => f.role === 'cassandra' && srcs.includes(f.node) && /\.(tbz|txz|tar)$/.test(f.path));
      lines.push(`${s.agent.node}: fetch ${tables.length} table archives (${formatBytes(tables.reduce((n, f) => n + f.size, 0))}) of ${srcs.join(', ')}, ` +
        `load with ${s.options.cassandra_mode === 'import' ? 'nodetool import' : 'sstableloader'} into ${keyspaces.map(ksTo).join(', ')}`);
    }
  } else if (cassNodes.length) lines.push('no agent with the cassandra role: the Cassandra part is NOT restored');
  const es = withRole(m, 'elasticsearch')[0]?.parts.elasticsearch as { skipped?: boolean; indices?: string[]; snapshot?: string; repository?: { name?: string } } | undefined;
  if (es && esAgent) {
    if (!es.skipped || !o.rebuildIndex) lines.push(es.skipped
      ? `${esAgent.node}: the index was not backed up (--skip-index): TheHive's index must be rebuilt (--rebuild-index does it at TheHive's next start)`
      : o.indexPrefix
        ? `${esAgent.node}: restore snapshot ${es.snapshot} (${es.repository?.name}) as ${(es.indices ?? []).map((i) => o.indexPrefix + i).join(', ')}`
        : `${esAgent.node}: DELETE indices ${(es.indices ?? []).join(', ')} and restore snapshot ${es.snapshot} from repository ${es.repository?.name}`);
  }
  if (o.rebuildIndex && esAgent) {
    lines.push(`${esAgent.node}: add db.janusgraph.forceDropAndRebuildIndex = true to TheHive's application.conf: TheHive rebuilds its index from Cassandra at its next start`);
  } else if (o.rebuildIndex) throw new ValidationError('--rebuild-index: no agent of the fleet has the elasticsearch role (its theHiveConfig names the file to change)');
  const files = m.files.filter((f) => f.role === 'files' && f.path.includes('/files/data/'));
  if (filesAgent && withRole(m, 'files').length) {
    lines.push(`${filesAgent.node}: copy ${files.length} files (${formatBytes(files.reduce((n, f) => n + f.size, 0))}) into ${o.filesTarget ?? 'TheHive\'s files folder'}, restoring owner and mode` +
      (o.filesClean ? '; REMOVE every file there the backup does not hold' : ''));
  }
  lines.push('then check rows per table, documents per index and every file\'s sha256 against the backup');
  if (o.dropScratch) lines.push('then drop the scratch keyspace, indices and folder');
  return { steps, lines, sameTopology };
}
