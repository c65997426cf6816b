/** Elasticsearch calls of the role: index discovery, repository checks, snapshot start/wait/delete. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import { PreconditionError, TandemError } from '../../../shared/errors';
import { esErrorType, esStatus } from './client';

/** What the repository looks like now. */
export interface RepositoryInfo {
  exists: boolean;
  type?: string;
  location?: string;
}

/** Concrete open indices matching the patterns, following aliases; sorted, system indices left out. */
export async function discoverIndices(client: Client, patterns: readonly string[]): Promise<string[]> {
  // ignore_unavailable: a pattern or alias that matches nothing is not an error (audits may not exist).
  const r = await client.indices.resolveIndex({ name: patterns.join(','), expand_wildcards: 'open', ignore_unavailable: true });
  const found = new Set<string>();
  for (const i of r.indices) if (!(i.attributes ?? []).includes('closed')) found.add(i.name);
  for (const a of r.aliases) for (const i of Array.isArray(a.indices) ? a.indices : [a.indices]) found.add(i);
  return [...found].filter((n) => !n.startsWith('.')).sort();
}

/** The repository's type and location, or exists=false. */
export async function repositoryInfo(client: Client, name: string): Promise<RepositoryInfo> {
  try {
    const r = await client.snapshot.getRepository({ name });
    const repo = r[name] as { type?: string; settings?: { location?: string } } | undefined;
    return repo ? { exists: true, type: repo.type, location: repo.settings?.location } : { exists: false };
  } catch (err) {
    if (esStatus(err) === 404) return { exists: false };
    throw err;
  }
}

/** The path.repo folders of every node (an fs repository must lie inside them on all nodes). */
export async function pathRepos(client: Client): Promise<string[][]> {
  const r = await client.nodes.info({ metric: 'settings', filter_path: 'nodes.*.settings.path.repo' });
  const nodes = Object.values((r as { nodes?: Record<string, { settings?: { path?: { repo?: string | string[] } } }> }).nodes ?? {});
  return nodes.map((n) => {
    const v = n.settings?.path?.repo;
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  });
}

/** Names (repository/snapshot) of snapshots running anywhere in the cluster. */
export async function runningSnapshots(client: Client): Promise<string[]> {
  const r = await client.snapshot.status();
  return r.snapshots.map((s) => `${s.repository}/${s.snapshot}`);
}

/** `_count` of every index, taken now. */
export async function docCounts(client: Client, indices: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(indices.map(async (index) => (out[index] = (await client.count({ index })).count)));
  return out;
}

/** The aliases of each index, e.g. {thehive_global: ['thehive']}. */
export async function aliasesOf(client: Client, indices: readonly string[]): Promise<Record<string, string[]>> {
  if (!indices.length) return {};
  const r = await client.indices.getAlias({ index: [...indices], expand_wildcards: 'none' });
  return Object.fromEntries(Object.entries(r).map(([index, v]) => [index, Object.keys(v.aliases ?? {}).sort()]));
}

/** One snapshot's info, or null if it does not exist. */
export async function getSnapshot(client: Client, repository: string, snapshot: string) {
  try {
    const r = await client.snapshot.get({ repository, snapshot });
    return r.snapshots?.[0] ?? null;
  } catch (err) {
    if (esErrorType(err) === 'snapshot_missing_exception') return null;
    throw err;
  }
}

/** Options of waitForSnapshot. */
export interface WaitOptions {
  timeoutMs: number;
  pollMs: number;
  signal: AbortSignal;
  /** Called after every poll with the shard counts seen so far. */
  onPoll?: (done: number, total: number) => void;
}

/** Polls until the snapshot ends; returns it when SUCCESS with no failed shard, else throws. */
export async function waitForSnapshot(client: Client, repository: string, snapshot: string, o: WaitOptions) {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    o.signal.throwIfAborted();
    const s = await getSnapshot(client, repository, snapshot);
    if (!s) throw new TandemError(`snapshot ${repository}/${snapshot} disappeared before it finished (deleted by someone else?)`);
    const shards = s.shards ?? { total: 0, successful: 0, failed: 0 };
    o.onPoll?.(shards.successful, shards.total);
    if (s.state !== 'IN_PROGRESS' && s.state !== 'STARTED') {
      // The vendor script never waited; PARTIAL or a failed shard means the index copy is incomplete.
      if (s.state === 'SUCCESS' && shards.failed === 0) return s;
      const why = (s.failures ?? []).map((f) => `${f.index}[${f.shard_id}]: ${f.reason}`).slice(0, 5).join('; ');
      throw new TandemError(
        `snapshot ${repository}/${snapshot} ended ${s.state} with ${shards.failed}/${shards.total} failed shards` + (why ? `: ${why}` : s.reason ? `: ${s.reason}` : ''),
      );
    }
    if (Date.now() > deadline) throw new PreconditionError(`snapshot ${repository}/${snapshot} did not finish within ${o.timeoutMs} ms (snapshotTimeoutMs)`);
    await sleep(o.pollMs, undefined, { signal: o.signal });
  }
}

/** Deletes (and so cancels, if running) a snapshot; true if it existed. A missing repository counts as gone. */
export async function deleteSnapshot(client: Client, repository: string, snapshot: string): Promise<boolean> {
  try {
    await client.snapshot.delete({ repository, snapshot });
    return true;
  } catch (err) {
    const t = esErrorType(err);
    if (t === 'snapshot_missing_exception' || t === 'repository_missing_exception') return false;
    throw err;
  }
}

/** The Elasticsearch version of the node the client talks to. */
export async function esVersion(client: Client): Promise<string> {
  // GET / is not used: some proxies (and this sandbox) refuse it, while _nodes is always there.
  const r = await client.nodes.info({ node_id: '_local', filter_path: 'nodes.*.version' });
  const v = Object.values((r as { nodes?: Record<string, { version?: string }> }).nodes ?? {})[0]?.version;
  if (!v) throw new TandemError('Elasticsearch did not report its version');
  return v;
}

/**
 * What the snapshot added to the repository: Elasticsearch snapshots are incremental inside their
 * repository (a segment already stored by an earlier snapshot is referenced, not copied again), so
 * tandem copies nothing of them and only records the sizes. Null when the status call fails.
 */
export async function snapshotSizes(client: Client, repository: string, snapshot: string): Promise<{ addedBytes: number; totalBytes: number } | null> {
  try {
    const r = await client.snapshot.status({ repository, snapshot });
    const stats = r.snapshots?.[0]?.stats as { incremental?: { size_in_bytes?: number }; total?: { size_in_bytes?: number } } | undefined;
    const added = stats?.incremental?.size_in_bytes;
    const total = stats?.total?.size_in_bytes;
    return typeof added === 'number' && typeof total === 'number' ? { addedBytes: added, totalBytes: total } : null;
  } catch {
    return null;
  }
}
