/**
 * Records lost: the hot writer's records acknowledged before a complete set's cut that a restore
 * of the set does not bring back. The set is restored into scratch targets (keyspace
 * thehive_faults, indices faults-*, a files folder) so the live stores are not touched.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { runCli } from '../helpers/fleet';
import type { WriterRecord } from '../sandbox';
import type { FaultFleet } from './sandbox-fleet';
import { dropRestoreTargets } from '../helpers/restore-targets';
import { scratchDir } from '../helpers/scratch';

const SCRATCH = 'thehive_faults';
const PREFIX = 'faults-';

/** Restores set `id` into scratch targets and returns how many of `acked` are missing from it. */
export async function restoreAndCount(f: FaultFleet, id: string, acked: readonly WriterRecord[]): Promise<number> {
  const filesTarget = await scratchDir('faults-files');
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
  try {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${SCRATCH}`);
    const r = await runCli(['restore', id, '--config', f.fleet.fleetFile, '--yes', '--json', '--target-keyspace', SCRATCH, '--index-prefix', PREFIX, '--files-target', filesTarget]);
    if (r.code !== 0) throw new Error(`restore of ${id} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
    let lost = 0;
    for (const rec of acked) {
      const row = await cql.execute(`SELECT key FROM ${SCRATCH}.edgestore WHERE key = ?`, [Buffer.from(rec.id)], { prepare: true });
      const doc = await fetch(`${f.env.elasticsearch.url}/${PREFIX}thehive_global/_doc/${rec.id}`);
      if (row.rowLength === 0 || doc.status !== 200 || !existsSync(join(filesTarget, 'hw', rec.id))) lost++;
    }
    return lost;
  } finally {
    await cql.shutdown();
    await dropRestoreTargets(f.env, { keyspace: SCRATCH, indexPrefix: PREFIX, filesTarget });
  }
}
