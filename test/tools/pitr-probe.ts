/**
 * What Cassandra 5.0 does with `restore_point_in_time` when it replays archived commitlog
 * segments, found on a node of its own (127.0.0.5, cluster tandem-pitr, in a scratch folder; the
 * sandbox's three nodes are not touched, only its installed Cassandra is used):
 *
 *   1. start the node with commitlog archiving on (`archive_command`), make a table and flush it;
 *   2. write rows whose write timestamps (USING TIMESTAMP) lie before and after an instant T, in
 *      an order where an earlier-stamped row is logged after a later-stamped one, and an update
 *      stamped after T of a row stamped before it;
 *   3. kill -9 the node (nothing flushed: the rows exist only in the commitlog), move its segments
 *      to a restore folder, as archived segments are;
 *   4. start it again with `restore_command`, `restore_directories` and `restore_point_in_time`
 *      = T, and read every row.
 *
 * Two readings of the documentation disagree: replay stops at the first mutation past T, or it
 * applies every mutation stamped up to T and skips the others. The table printed says which rows
 * each reading predicts and which came back. Usage: `npm run build && node
 * dist/test/tools/pitr-probe.js [--keep]` (needs `npm run sandbox -- up` once, for the install).
 */
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { connectProbeNode, installedCassandra, kill9, probeNodetool, probeYaml, restorePoint, startProbeNode, type ProbeNode } from './probe-node';

const NODE: ProbeNode = { host: '127.0.0.5', jmxPort: 7500, cluster: 'tandem-pitr' };

/** One row of the probe: its key, its write timestamp against T, and whether each reading of replay keeps it. */
interface ProbeRow {
  k: number;
  value: string;
  offsetSeconds: number;
}

// In log order. Row 3 is stamped before T but logged after row 2, stamped after it; row 5 overwrites row 1 after T.
const ROWS: ProbeRow[] = [
  { k: 1, value: 'stamped T-20s', offsetSeconds: -20 },
  { k: 2, value: 'stamped T+20s', offsetSeconds: 20 },
  { k: 3, value: 'stamped T-10s, logged after a later one', offsetSeconds: -10 },
  { k: 4, value: 'stamped T+30s', offsetSeconds: 30 },
  { k: 1, value: 'overwrite of row 1 stamped T+5s', offsetSeconds: 5 },
];

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  // The scratch folder's exit hook keeps it only so.
  if (keep) process.env.TANDEM_KEEP_SCRATCH = '1';
  const dir = await scratchDir('pitr-probe');
  for (const d of ['conf', 'data', 'commitlog', 'archive', 'restore', 'logs', 'tools']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'cassandra.yaml'), probeYaml(NODE, dir));
  const props = join(dir, 'conf', 'commitlog_archiving.properties');
  writeFileSync(props, `archive_command=/bin/cp %path ${dir}/archive/%name\n`);
  // T an hour ahead: every mutation Cassandra makes itself (schema, system tables) is stamped before it and replayed.
  const t = Math.floor((Date.now() + 3_600_000) / 1000) * 1000;
  const nodetool = probeNodetool(NODE, dir);
  let node = startProbeNode(NODE, dir);
  try {
    let c = await connectProbeNode(NODE, node);
    await c.execute("CREATE KEYSPACE probe WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    await c.execute('CREATE TABLE probe.t (k int PRIMARY KEY, v text)');
    await runCommand([...nodetool, 'flush']);
    for (const r of ROWS) await c.execute('INSERT INTO probe.t (k, v) VALUES (?, ?) USING TIMESTAMP ?', [r.k, r.value, (t + r.offsetSeconds * 1000) * 1000], { prepare: true });
    await c.shutdown();
    await kill9(node);
    // The rows are in the commitlog only: its segments become the archive a restore replays.
    const segments = readdirSync(join(dir, 'commitlog')).filter((f) => f.endsWith('.log'));
    for (const f of segments) renameSync(join(dir, 'commitlog', f), join(dir, 'restore', f));
    writeFileSync(props, `restore_command=/bin/cp -f %from %to\nrestore_directories=${dir}/restore\nrestore_point_in_time=${restorePoint(t)}\n`);
    node = startProbeNode(NODE, dir);
    c = await connectProbeNode(NODE, node);
    const found = new Map((await c.execute('SELECT k, v FROM probe.t')).rows.map((r) => [r.k as number, r.v as string]));
    await c.shutdown();
    // What each reading predicts: every mutation stamped ≤ T applied (skip), or replay ended at row 2 (stop).
    const skip = new Map<number, string>();
    for (const r of ROWS) if (r.offsetSeconds <= 0) skip.set(r.k, r.value);
    const stop = new Map<number, string>([[1, ROWS[0].value]]);
    console.log(`restore_point_in_time=${restorePoint(t)} (T); ${segments.length} segment(s) replayed from restore_directories; Cassandra ${installedCassandra()}`);
    console.log('| key | written (log order) | "applies every mutation ≤ T" predicts | "stops at the first mutation > T" predicts | found after replay |');
    console.log('|---|---|---|---|---|');
    for (const k of [1, 2, 3, 4]) {
      const written = ROWS.filter((r) => r.k === k).map((r) => r.value).join('; then ');
      console.log(`| ${k} | ${written} | ${skip.get(k) ?? 'absent'} | ${stop.get(k) ?? 'absent'} | ${found.get(k) ?? 'absent'} |`);
    }
    const same = (m: Map<number, string>) => [1, 2, 3, 4].every((k) => m.get(k) === found.get(k));
    console.log(same(skip) ? 'verdict: every mutation stamped at or before T is applied, wherever it is in the log; those stamped after T are skipped, and replay goes on past them.'
      : same(stop) ? 'verdict: replay stops at the first mutation stamped after T.'
        : 'verdict: neither reading: see the rows.');
  } finally {
    if (node.exitCode === null) await kill9(node);
    if (!keep) removeScratch(dir);
    else console.log(`kept ${dir}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
