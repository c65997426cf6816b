/**
 * Side-by-side benchmark of a cluster snapshot on the sandbox, in one run on the same data:
 *   (a) the seed's per-node steps, one node after another (nodetool snapshot, tar cjf per table)
 *   (b) the same commands started on every node at once
 *   (c) tandem backup (two-phase, the helper JVM's JMX snapshot, parallel compression)
 * For each: the spread between the nodes' snapshot instants (Cassandra's own created_at) and
 * the total wall time, median and worst of several rounds run in a rotated order. Not a test:
 * it asserts nothing and prints what it measured.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { readCreatedAt } from '../../agent/roles/cassandra/snapshot-files';
import { cassandraRoleSettings, readSandboxEnv } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { roundOrder } from './stats';

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

/** One way's runs. */
export interface BackupBenchRow {
  method: string;
  spreadMs: number[];
  wallSeconds: number[];
}

type Way = { method: string; run: (tag: string, out: string) => Promise<{ instants?: number[]; spreadMs?: number }> };

/**
 * Runs (a)–(d) on the sandbox, `rounds` times each, in an order rotated from round to round
 * (stats.ts): the seed's commands do not always read a cold page cache and tandem a warm one.
 */
export async function benchBackup(rounds = 3, onRun: (method: string, round: number) => void = () => undefined): Promise<BackupBenchRow[]> {
  const env = readSandboxEnv();
  const nodes = env.cassandra.nodes;
  // Both fleets are started before any run is timed: an agent's start is not a backup's cost.
  const fleets = new Map<boolean, TestFleet>();
  for (const countRows of [true, false]) {
    const fleet = await makeFleet(nodes.map((n) => ({ node: n.name, roles: { cassandra: { ...cassandraRoleSettings(env, n), countRows } } })), { prepareTimeoutMs: 300_000 });
    fleets.set(countRows, fleet);
    await startFleet(fleet);
  }
  const tandem = (countRows: boolean) => async () => {
    const fleet = fleets.get(countRows)!;
    const r = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--full']);
    const o = JSON.parse(r.stdout || '{}');
    if (o.status !== 'complete') throw new Error(`tandem backup did not complete: ${r.stderr}`);
    return { spreadMs: o.snapshotSpreadMs as number };
  };
  const ways: Way[] = [
    { method: '(a) seed, node after node', run: async (tag, out) => { const instants: number[] = []; for (const n of nodes) instants.push(await seedSteps(n, tag, out)); return { instants }; } },
    { method: '(b) seed, all nodes at once', run: async (tag, out) => ({ instants: await Promise.all(nodes.map((n) => seedSteps(n, tag, out))) }) },
    // (c) as shipped; (d) without the row count recorded for the restore check, to show what it costs.
    { method: '(c) tandem backup --full', run: tandem(true) },
    { method: '(d) tandem backup --full, countRows: false', run: tandem(false) },
  ];
  const rows = new Map(ways.map((w) => [w.method, { method: w.method, spreadMs: [] as number[], wallSeconds: [] as number[] }]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const way of roundOrder(ways, round)) {
        const tag = `tandem-bench-${round}-${Date.now()}`;
        const out = await scratchDir('bench-backup');
        const t0 = Date.now();
        try {
          const r = await way.run(tag, out);
          const row = rows.get(way.method)!;
          row.wallSeconds.push((Date.now() - t0) / 1000);
          row.spreadMs.push(r.spreadMs ?? Math.max(...r.instants!) - Math.min(...r.instants!));
          onRun(way.method, round);
        } finally {
          if (way.method.startsWith('(a)') || way.method.startsWith('(b)')) await clear(nodes, tag);
          removeScratch(out);
        }
      }
    }
  } finally {
    for (const f of fleets.values()) await removeFleet(f);
  }
  return [...rows.values()];
}
