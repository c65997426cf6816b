/**
 * The snapshots a restore makes Cassandra take. With `auto_snapshot: true` (Cassandra's default,
 * and what operators should keep), every TRUNCATE and DROP makes each node keep the data it held
 * as a snapshot `truncated-<ms>-<table>` or `dropped-<ms>-<table>`. A restore truncates (or drops)
 * the tables it fills, and a drill drops its scratch keyspace: left alone, each drill would keep
 * one more full copy of the cluster on disk. Once the restore has verified (the cleanup phase runs
 * only then), tandem clears the ones its own restore caused: in the keyspaces it restored into,
 * taken since this restore started on this node. A restore that fails keeps them: they are the way
 * back to the data it replaced.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RestoreContext } from '../role';

/** Where snapshots are listed and cleared (the helper JVM). */
export interface SnapshotKeeper {
  snapshotTags(): Promise<{ tag: string; keyspace: string }[]>;
  clearSnapshot(tag: string, keyspace: string): Promise<void>;
}

/** Cassandra's names for the snapshots of TRUNCATE and DROP. */
const CAUSED = /^(truncated|dropped)-(\d{10,16})-[A-Za-z][A-Za-z0-9_]{0,47}$/;

const startedFile = (ctx: RestoreContext) => join(ctx.workDir, 'started.json');

/** Records when this restore started on this node (once per restore id), before anything is truncated. */
export async function recordRestoreStart(ctx: RestoreContext, now = Date.now()): Promise<void> {
  if ((await readFile(startedFile(ctx), 'utf8').catch(() => null)) !== null) return;
  await mkdir(ctx.workDir, { recursive: true });
  await writeFile(startedFile(ctx), JSON.stringify({ startedMs: now }));
}

/** The TRUNCATE/DROP snapshot tags among `tags` in `keyspaces`, taken in [sinceMs, untilMs]. */
export function snapshotsCausedSince(tags: readonly { tag: string; keyspace: string }[], keyspaces: ReadonlySet<string>, sinceMs: number, untilMs: number): { tag: string; keyspace: string }[] {
  return tags.filter((t) => {
    const m = CAUSED.exec(t.tag);
    return m !== null && keyspaces.has(t.keyspace) && Number(m[2]) >= sinceMs && Number(m[2]) <= untilMs;
  });
}

/** Clears the snapshots this restore caused on this node; says what it cleared, or why it could not tell. */
export async function clearRestoreSnapshots(ctx: RestoreContext, node: SnapshotKeeper, keyspaces: ReadonlySet<string>): Promise<string> {
  const text = await readFile(startedFile(ctx), 'utf8').catch(() => null);
  const since = text === null ? NaN : Number((JSON.parse(text) as { startedMs?: unknown }).startedMs);
  if (!Number.isFinite(since)) return 'no record of when this restore started here: truncated-*/dropped-* snapshots left for nodetool clearsnapshot';
  const caused = snapshotsCausedSince(await node.snapshotTags(), keyspaces, since, Date.now());
  for (const s of caused) await node.clearSnapshot(s.tag, s.keyspace);
  return caused.length ? `cleared ${caused.length} snapshots Cassandra took of what the restore replaced (${[...new Set(caused.map((s) => s.tag.split('-')[0]))].join(', ')}-*)` : 'no snapshot to clear';
}
