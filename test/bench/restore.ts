/**
 * Restore time of one backup set, side by side in one run on the same archives:
 *   (a) the vendor's manual procedure, node after node: `tar xjf` per table, `nodetool import`
 *   (b) `tandem restore` (checks every part's sha256 first, imports on all nodes in parallel,
 *       counts rows afterwards)
 * Both restore into scratch keyspaces created from the backup's schema.cql. Not a test.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { runCommand } from '../../shared/exec';
import { rewriteStatement, splitStatements } from '../../agent/roles/cassandra/schema';
import { cassandraRoleSettings, readSandboxEnv } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';

/** One row of the report. */
export interface RestoreBenchRow {
  method: string;
  wallSeconds: number;
}

/** Backs up the sandbox's keyspace once, then restores it both ways and times each. */
export async function benchRestore(): Promise<RestoreBenchRow[]> {
  const env = readSandboxEnv();
  const nodes = env.cassandra.nodes;
  const fleet = await makeFleet(
    nodes.map((n) => ({ node: n.name, roles: { cassandra: cassandraRoleSettings(env, n) } })),
    { prepareTimeoutMs: 300_000 },
  );
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
  await startFleet(fleet);
  const rows: RestoreBenchRow[] = [];
  try {
    const id = `bench-restore-${Date.now().toString(36)}`;
    const b = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--id', id]);
    if (JSON.parse(b.stdout || '{}').status !== 'complete') throw new Error(`backup failed: ${b.stderr}`);
    const setDir = join(fleet.destDir, id);

    // (a) the vendor's procedure.
    const t0 = Date.now();
    const schema = splitStatements(await readFile(join(setDir, 'node1', 'cassandra', 'thehive', 'schema.cql'), 'utf8'));
    for (const s of schema) await cql.execute(rewriteStatement(s, 'thehive', 'thehive_vendor'));
    const work = await scratchDir('bench-restore');
    for (const n of nodes) {
      for (const t of ['edgestore', 'edgestore_lock_', 'graphindex', 'graphindex_lock_', 'janusgraph_ids', 'system_properties', 'system_properties_lock_', 'systemlog', 'txlog']) {
        // Laid out <keyspace>/<table>: from a folder named otherwise Cassandra imports nothing, exit code 0.
        const dir = join(work, n.name, 'thehive_vendor', t);
        await mkdir(dir, { recursive: true });
        await runCommand(['tar', 'xjf', join(setDir, n.name, 'cassandra', 'thehive', `${t}.tbz`), '-C', dir]);
        await runCommand([n.nodetool, 'import', 'thehive_vendor', t, dir]);
        const left = (await readdir(dir)).filter((f) => f.endsWith('-Data.db'));
        if (left.length) throw new Error(`nodetool import left ${left.length} SSTables in ${dir}: the vendor's way loaded nothing, no figure to report`);
      }
    }
    rows.push({ method: '(a) vendor: tar xjf + nodetool import, node after node', wallSeconds: (Date.now() - t0) / 1000 });
    removeScratch(work);

    // (b) tandem.
    const t1 = Date.now();
    const r = await runCli(['restore', id, '--config', fleet.fleetFile, '--yes', '--target-keyspace', 'thehive_tandem', '--json']);
    if (!JSON.parse(r.stdout || '{}').ok) throw new Error(`tandem restore failed: ${r.stderr}`);
    rows.push({ method: '(b) tandem restore (+ sha256 check, row counts)', wallSeconds: (Date.now() - t1) / 1000 });
  } finally {
    for (const ks of ['thehive_vendor', 'thehive_tandem']) await cql.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await cql.shutdown();
    await removeFleet(fleet);
  }
  return rows;
}
