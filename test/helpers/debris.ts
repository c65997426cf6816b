/**
 * What a backup id left behind, looked for below the Destination interface: `list()` skips every
 * hidden name (the local temporaries `.x.partial`, rsync's `.rsync-partial/`), and an S3
 * multipart upload in progress is no object at all. The leftovers checks of the fault suite and
 * of the integration tests read the storage itself: the folder on disk (local, and the rsync
 * host, which is a folder of this machine in the sandbox), every key and every multipart upload
 * under the prefix (S3), and the agents' own work folders.
 */
import { existsSync, readdirSync, type Dirent } from 'node:fs';
import { join, relative } from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3Destination } from '../../shared/destination/s3';
import type { DestinationConfig } from '../../shared/destination';

/** Every file and link below `dir`, hidden names included, as paths relative to `base`; links are listed, never followed. */
function walk(dir: string, base: string, out: string[] = []): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const before = out.length;
      walk(p, base, out);
      if (out.length === before) out.push(`${relative(base, p)}/`); // an empty folder is debris too
    } else out.push(relative(base, p));
  }
  return out;
}

/** What storage holds under `<prefix>` at a destination: files (hidden ones too) and, on S3, unfinished multipart uploads. */
export async function storedUnder(config: DestinationConfig, prefix: string): Promise<{ files: string[]; uploads: string[] }> {
  if (config.type === 'local' || config.type === 'rsync') {
    const root = config.path;
    return { files: walk(join(root, prefix), root), uploads: [] };
  }
  const s3 = new S3Destination(config);
  try {
    const Prefix = `${config.prefix ? `${config.prefix}/` : ''}${prefix}`;
    const files: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const r = await s3.client.send(new ListObjectsV2Command({ Bucket: config.bucket, Prefix, ContinuationToken }));
      for (const o of r.Contents ?? []) if (o.Key) files.push(o.Key);
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
    // The bucket's whole list, filtered here: MinIO answers a prefix only for an exact object key.
    const uploads: string[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const r = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: config.bucket, KeyMarker, UploadIdMarker }));
      for (const u of r.Uploads ?? []) if (u.Key?.startsWith(Prefix)) uploads.push(u.Key);
      [KeyMarker, UploadIdMarker] = r.IsTruncated ? [r.NextKeyMarker, r.NextUploadIdMarker] : [undefined, undefined];
    } while (KeyMarker);
    return { files, uploads };
  } finally {
    s3.client.destroy();
  }
}

/** The agents' work folders (`<stateDir>/work/<id>`) that still exist for backup `id`. */
export function agentWorkLeft(agents: { node: string; stateDir: string }[], id: string): string[] {
  return agents.filter((a) => existsSync(join(a.stateDir, 'work', id))).map((a) => `${a.node}: work folder ${join(a.stateDir, 'work', id)}`);
}

/** One phrase per kind of debris a backup id left at the destination and on the agents; [] when clean. */
export async function debrisOf(config: DestinationConfig, agents: { node: string; stateDir: string }[], id: string, opts: { setKept: boolean }): Promise<string[]> {
  const out: string[] = [];
  const { files, uploads } = await storedUnder(config, `${id}/`);
  // A kept set holds its own files; only hidden names (temporaries, partial transfers) are debris in it.
  const stray = opts.setKept ? files.filter((f) => f.split('/').some((seg) => seg.startsWith('.'))) : files;
  if (stray.length) out.push(`destination ${id}/: ${stray.length} ${opts.setKept ? 'hidden ' : ''}files (${stray.slice(0, 3).join(', ')})`);
  if (uploads.length) out.push(`destination ${id}/: ${uploads.length} multipart uploads in progress (${uploads.slice(0, 3).join(', ')})`);
  out.push(...agentWorkLeft(agents, id));
  return out;
}
