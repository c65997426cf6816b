/**
 * Verification of a backup set at its destination: every file the manifest lists is re-read,
 * and its size and sha256 compared with what was recorded at backup time.
 */
import { createHash } from 'node:crypto';
import { openDestination, type DestinationConfig } from '../../shared/destination';
import { errorMessage } from '../../shared/errors';
import type { Manifest } from '../../shared/manifest';
import { runPool } from '../../shared/pool';
import type { AgentHandle } from '../fleet';
import { readManifest } from './catalog';

/** The outcome of `tandem verify`. */
export interface VerifyReport {
  id: string;
  ok: boolean;
  files: number;
  bytes: number;
  problems: string[];
}

/** Re-reads every part of the set; never throws for a damaged set, it reports it. */
export async function verifyBackupSet(
  config: DestinationConfig,
  id: string,
  opts: { parallelism?: number; onFile?: (path: string) => void; agents?: readonly AgentHandle[]; manifest?: Manifest } = {},
): Promise<VerifyReport> {
  const dest = openDestination(config);
  // The caller may have read and validated the manifest already (restore, drill).
  const manifest = opts.manifest ?? (await readManifest(dest, id));
  const problems: string[] = [];
  let bytes = 0;
  await runPool(manifest.files, opts.parallelism ?? 4, undefined, async (f) => {
    try {
      const st = await dest.stat(f.path);
      if (!st) return void problems.push(`${f.path}: missing`);
      if (st.size !== f.size) return void problems.push(`${f.path}: size ${st.size}, manifest says ${f.size}`);
      if (f.sha256) {
        const h = createHash('sha256');
        for await (const chunk of await dest.get(f.path)) h.update(chunk as Buffer);
        const sum = h.digest('hex');
        if (sum !== f.sha256) problems.push(`${f.path}: sha256 ${sum}, manifest says ${f.sha256} (corrupt)`);
      }
      bytes += st.size;
      opts.onFile?.(f.path);
    } catch (err) {
      problems.push(`${f.path}: cannot read: ${errorMessage(err)}`);
    }
  });
  for (const n of manifest.nodes) {
    const es = n.parts.elasticsearch as { state?: string; skipped?: boolean } | undefined;
    if (!es || es.skipped) continue;
    if (es.state && es.state !== 'SUCCESS') problems.push(`${n.node}: Elasticsearch snapshot state ${es.state}`);
    // The snapshot itself lives in Elasticsearch's repository: an agent with the role confirms it.
    const agent = opts.agents?.find((a) => a.entry.roles.includes('elasticsearch'));
    if (!agent) {
      problems.push('no agent with the elasticsearch role to confirm the Elasticsearch snapshot');
      continue;
    }
    try {
      const r = await agent.restore(
        { restoreId: `check-${id}`.slice(0, 64), backupId: id, phase: 'check', manifestJson: JSON.stringify(manifest), destinationJson: JSON.stringify(config), options: { skip_cassandra: 'true', skip_files: 'true' } },
        60_000,
      );
      const es = (JSON.parse(r.resultJson || '{}') as { elasticsearch?: { ok?: boolean; problems?: string[] } }).elasticsearch;
      if (es && !es.ok) problems.push(...(es.problems ?? ['Elasticsearch snapshot check failed']).map((p) => `${agent.node}: ${p}`));
    } catch (err) {
      problems.push(`${agent.node}: cannot confirm the Elasticsearch snapshot: ${errorMessage(err)}`);
    }
  }
  return { id, ok: problems.length === 0, files: manifest.files.length, bytes, problems: problems.sort() };
}
