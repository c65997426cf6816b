/**
 * Verification of a backup set at its destination: every file the manifest lists is re-read,
 * and its size and sha256 compared with what was recorded at backup time.
 */
import { createHash } from 'node:crypto';
import { openDestination, type DestinationConfig } from '../../shared/destination';
import { errorMessage } from '../../shared/errors';
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
  opts: { parallelism?: number; onFile?: (path: string) => void } = {},
): Promise<VerifyReport> {
  const dest = openDestination(config);
  const manifest = await readManifest(dest, id);
  const problems: string[] = [];
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    while (next < manifest.files.length) {
      const f = manifest.files[next++];
      try {
        const st = await dest.stat(f.path);
        if (!st) {
          problems.push(`${f.path}: missing`);
          continue;
        }
        if (st.size !== f.size) {
          problems.push(`${f.path}: size ${st.size}, manifest says ${f.size}`);
          continue;
        }
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
    }
  };
  await Promise.all(Array.from({ length: opts.parallelism ?? 4 }, worker));
  for (const n of manifest.nodes) {
    const es = n.parts.elasticsearch as { state?: string; skipped?: boolean } | undefined;
    if (es && !es.skipped && es.state && es.state !== 'SUCCESS') problems.push(`${n.node}: Elasticsearch snapshot state ${es.state}`);
  }
  return { id, ok: problems.length === 0, files: manifest.files.length, bytes, problems: problems.sort() };
}
