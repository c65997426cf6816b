/** Reads the backup sets present at a destination: complete ones have a valid manifest. */
import { openDestination, readAll, type Destination, type DestinationConfig } from '../../shared/destination';
import { NotFoundError } from '../../shared/errors';
import { manifestDigest, manifestPath, parseManifest, type Manifest } from '../../shared/manifest';
import { checkBackupId } from '../../shared/names';

/** One backup set as listed. */
export interface CatalogEntry {
  id: string;
  status: 'complete' | 'incomplete';
  files: number;
  bytes: number;
  completedAt?: string;
  snapshotSpreadMs?: number | null;
}

/** Lists every backup set folder at the destination, newest id last. */
export async function listBackupSets(config: DestinationConfig): Promise<CatalogEntry[]> {
  const dest = openDestination(config);
  const byId = new Map<string, { files: number; bytes: number; manifest: boolean }>();
  for (const e of await dest.list('')) {
    const id = e.path.split('/')[0];
    const cur = byId.get(id) ?? { files: 0, bytes: 0, manifest: false };
    cur.files++;
    cur.bytes += e.size;
    if (e.path === manifestPath(id)) cur.manifest = true;
    byId.set(id, cur);
  }
  const out: CatalogEntry[] = [];
  for (const [id, c] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    const m = c.manifest ? await readManifest(dest, id).catch(() => null) : null;
    out.push(
      m
        ? { id, status: 'complete', files: m.files.length + m.listed.files, bytes: m.bytes, completedAt: m.completedAt, snapshotSpreadMs: m.snapshotSpreadMs }
        : { id, status: 'incomplete', files: c.files, bytes: c.bytes },
    );
  }
  return out;
}

/** The id of the most recently completed backup set; NotFoundError when there is none. */
export async function latestComplete(config: DestinationConfig): Promise<string> {
  const complete = (await listBackupSets(config)).filter((e) => e.status === 'complete' && e.completedAt);
  const latest = complete.sort((a, b) => Date.parse(a.completedAt!) - Date.parse(b.completedAt!)).pop();
  if (!latest) throw new NotFoundError('there is no complete backup set at the destination');
  return latest.id;
}

/** Reads and validates one backup set's manifest; NotFoundError when the set is absent or incomplete. */
export async function readManifest(dest: Destination, id: string): Promise<Manifest> {
  return (await readManifestAndDigest(dest, id)).manifest;
}

/** The manifest with the sha256 of its bytes, which restore requests carry to the agents. */
export async function readManifestAndDigest(dest: Destination, id: string): Promise<{ manifest: Manifest; sha256: string }> {
  checkBackupId(id);
  if (!(await dest.stat(manifestPath(id)))) {
    const any = (await dest.list(`${id}/`)).length > 0;
    throw new NotFoundError(
      any
        ? `backup set ${id} is incomplete (no manifest): it was never finished and is not a backup`
        : `no backup set ${id} at ${dest.describe()}; 'tandem list' shows the sets there`,
    );
  }
  const body = await readAll(dest, manifestPath(id));
  return { manifest: parseManifest(body, id), sha256: manifestDigest(body) };
}
