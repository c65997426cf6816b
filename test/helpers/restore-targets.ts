/**
 * The scratch targets a restore on the sandbox writes into instead of the live stores (a keyspace
 * given with --target-keyspace, indices under --index-prefix, a --files-target folder), removed
 * again once the restore has been looked at, so that runs do not pile up.
 */
import { Client } from 'cassandra-driver';
import { parseSnapshotTags } from '../../agent/roles/cassandra/nodetool';
import { runCommand } from '../../shared/exec';
import { checkCqlName } from '../../shared/names';
import { restoreOptionsSchema } from '../../shared/wire/restore';
import type { SandboxEnv } from '../sandbox';
import { removeScratch } from './scratch';

/** What one restore was sent into. */
export interface RestoreTargets {
  keyspace: string;
  indexPrefix: string;
  /** A scratch folder (scratchDir), removed here. */
  filesTarget?: string;
}

/**
 * Drops the keyspace, deletes the prefixed indices and removes the files folder; then clears the
 * snapshots the DROP made on every node (auto_snapshot): Cassandra's, not a leftover of tandem's.
 * Never throws for what is already gone.
 */
export async function dropRestoreTargets(env: SandboxEnv, t: RestoreTargets): Promise<void> {
  // Checked first: an empty prefix would match every index, and the live keyspace is no scratch target.
  checkCqlName(t.keyspace);
  if (t.keyspace === env.cassandra.keyspace) throw new Error(`${t.keyspace} is the live keyspace, not a scratch target`);
  restoreOptionsSchema.shape.indexPrefix.unwrap().parse(t.indexPrefix);
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  try {
    await cql.connect();
    await cql.execute(`DROP KEYSPACE IF EXISTS ${t.keyspace}`).catch(() => undefined);
  } finally {
    await cql.shutdown();
  }
  await deletePrefixedIndices(env, t.indexPrefix);
  if (t.filesTarget) removeScratch(t.filesTarget);
  await Promise.all(env.cassandra.nodes.map(async (n) => {
    const tags = parseSnapshotTags((await runCommand([n.nodetool, 'listsnapshots'], { timeoutMs: 120_000 })).stdout);
    for (const s of tags.filter((x) => x.keyspace === t.keyspace)) await runCommand([n.nodetool, 'clearsnapshot', '-t', s.tag, '--', t.keyspace], { timeoutMs: 120_000 });
  }));
}

/**
 * Deletes every index whose name starts with `prefix`, by name: Elasticsearch 8 refuses a
 * wildcard in a DELETE (action.destructive_requires_name defaults to true).
 */
async function deletePrefixedIndices(env: SandboxEnv, prefix: string): Promise<void> {
  const r = await fetch(`${env.elasticsearch.url}/_cat/indices/${prefix}*?format=json&h=index&expand_wildcards=all`);
  if (!r.ok) throw new Error(`listing the indices ${prefix}*: HTTP ${r.status} ${await r.text()}`);
  const names = ((await r.json()) as { index: string }[]).map((i) => i.index).filter((n) => n.startsWith(prefix));
  if (!names.length) return;
  const d = await fetch(`${env.elasticsearch.url}/${names.map(encodeURIComponent).join(',')}?expand_wildcards=all`, { method: 'DELETE' });
  if (!d.ok) throw new Error(`deleting the scratch indices ${names.join(', ')}: HTTP ${d.status} ${await d.text()}`);
}
