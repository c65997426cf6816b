/**
 * Side-by-side benchmark of a cluster snapshot on the sandbox, in one run on the same data:
 *   (a) the seed's per-node steps, one node after another (nodetool snapshot, tar cjf per table)
 *   (b) the same commands started on every node at once
 *   (c) tandem backup (two-phase, the helper JVM's JMX snapshot, parallel compression)
 * For each: the spread between the nodes' snapshot instants (Cassandra's own created_at) and
 * the total wall time. Not a test: it asserts nothing and prints what it measured.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { readCreatedAt } from '../../agent/roles/cassandra/snapshot-files';
import { cassandraRoleSettings, readSandboxEnv } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';

type Node = ReturnType<typeof readSandboxEnv>['cassandra']['nodes'][number];

/** The seed's steps on one node: snapshot, then one `tar cjf` per table into outDir. */
async function seedSteps(n: Node, tag: string, outDir: string): Promise<number> {
  await runCommand([n.nodetool, 'snapshot', '-t', tag, 'thehive']);
  const ks = join(n.dataDir, 'thehive');
  let createdAt = 0;
  for (const t of await readdir(ks)) {
    const snap = join(ks, t, 'snapshots', tag);
    // Folders of dropped tables linger after a keyspace is recreated: they hold no such snapshot.
    const at = await readCreatedAt(snap);
    if (at === null) continue;
    createdAt ||= at;
    await runCommand(['tar', 'cjf', join(outDir, `${n.name}-${t}.tbz`), '-C', snap, '.']);
  }
  return createdAt;
}

async function clear(nodes: Node[], tag: string): Promise<void> {
  for (const n of nodes) await runCommand([n.nodetool, 'clearsnapshot', '-t', tag, '--', 'thehive']);
}

/** One row of the report. */
export interface BackupBenchRow {
  method: string;
  spreadMs: number;
  wallSeconds: number;
}

/** Runs (a), (b) and (c) on the sandbox and returns their rows. */
export async function benchBackup(onRow: (row: BackupBenchRow) => void = () => undefined): Promise<BackupBenchRow[]> {
  const env = readSandboxEnv();
  const nodes = env.cassandra.nodes;
  const rows: BackupBenchRow[] = [];
  const run = async (method: string, fn: (tag: string, out: string) => Promise<number[]>) => {
    const tag = `tandem-bench-${rows.length}-${Date.now()}`;
    const out = await scratchDir('bench-backup');
    const t0 = Date.now();
    try {
      const instants = await fn(tag, out);
      rows.push({ method, spreadMs: Math.max(...instants) - Math.min(...instants), wallSeconds: (Date.now() - t0) / 1000 });
      onRow(rows[rows.length - 1]);
    } finally {
      await clear(nodes, tag);
      removeScratch(out);
    }
  };
  await run('(a) seed, node after node', async (tag, out) => {
    const res: number[] = [];
    for (const n of nodes) res.push(await seedSteps(n, tag, out));
    return res;
  });
  await run('(b) seed, all nodes at once', (tag, out) => Promise.all(nodes.map((n) => seedSteps(n, tag, out))));
  // (c) as shipped; (d) without the row count recorded for the restore check, to show what it costs.
  for (const [method, countRows] of [['(c) tandem backup', true], ['(d) tandem backup, countRows: false', false]] as const) {
    const fleet = await makeFleet(
      nodes.map((n) => ({ node: n.name, roles: { cassandra: { ...cassandraRoleSettings(env, n), countRows } } })),
      { prepareTimeoutMs: 300_000 },
    );
    await startFleet(fleet);
    try {
      const t0 = Date.now();
      const r = await runCli(['backup', '--config', fleet.fleetFile, '--json']);
      const o = JSON.parse(r.stdout || '{}');
      if (o.status !== 'complete') throw new Error(`tandem backup did not complete: ${r.stderr}`);
      rows.push({ method, spreadMs: o.snapshotSpreadMs, wallSeconds: (Date.now() - t0) / 1000 });
    } finally {
      await removeFleet(fleet);
    }
  }
  return rows;
}
