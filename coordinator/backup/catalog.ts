/**
 * Reads the backup sets present at a destination: complete ones have a valid manifest. Only the
 * top-level folders are listed and each one's manifest read: a destination of hundreds of sets
 * of thousands of files each is never listed file by file (only incomplete and pruned folders,
 * whose size is shown, are).
 */
import { openDestination, readAll, type Destination, type DestinationConfig } from '../../shared/destination';
import { errorMessage, NotFoundError } from '../../shared/errors';
import { manifestDigest, manifestPath, parseManifest, type Manifest } from '../../shared/manifest';
import { BACKUP_ID, checkBackupId } from '../../shared/names';
import { runPool } from '../../shared/pool';
import { PRUNED_MARKER, prunedMarkerPath } from '../retention/marker';

/**
 * What a folder at the destination is: `complete` (a valid manifest), `incomplete` (no manifest:
 * a backup never finished, or still running), `pruned` (a set a prune removed, or is removing,
 * whose folder still holds files later sets need), `unreadable` (a manifest this tandem cannot
 * read: damaged, or of another format; never touched by a prune).
 */
export type SetStatus = 'complete' | 'incomplete' | 'pruned' | 'unreadable';

/** One backup set as listed. */
export interface CatalogEntry {
  id: string;
  status: SetStatus;
  files: number;
  bytes: number;
  completedAt?: string;
  snapshotSpreadMs?: number | null;
  /** Why the manifest of an unreadable set does not read. */
  problem?: string;
}

/** One folder of the destination's root, with its manifest when it reads. */
export interface ScannedSet {
  id: string;
  status: SetStatus;
  manifest: Manifest | null;
  problem?: string;
}

/** How many folders are looked at at once (stat, read): a remote destination answers each in a round trip. */
const SCAN_PARALLELISM = 8;

/** Every backup set folder at the root, sorted by id; folders whose name is not a backup id are not tandem's and are left out. */
export async function scanSets(dest: Destination): Promise<ScannedSet[]> {
  const ids = (await dest.folders('')).filter((id) => BACKUP_ID.test(id));
  return runPool(ids, SCAN_PARALLELISM, undefined, async (id): Promise<ScannedSet> => {
    const [manifest, marker] = await Promise.all([dest.stat(manifestPath(id)), dest.stat(prunedMarkerPath(id))]);
    // The marker wins over a manifest: a prune killed between the two is still a prune under way.
    if (marker) return { id, status: 'pruned', manifest: null };
    if (!manifest) return { id, status: 'incomplete', manifest: null };
    try {
      return { id, status: 'complete', manifest: parseManifest(await readAll(dest, manifestPath(id)), id) };
    } catch (err) {
      return { id, status: 'unreadable', manifest: null, problem: errorMessage(err) };
    }
  });
}

/** Lists every backup set folder at the destination, sorted by id (newest generated id last). */
export async function listBackupSets(config: DestinationConfig): Promise<CatalogEntry[]> {
  const dest = openDestination(config);
  return runPool(await scanSets(dest), SCAN_PARALLELISM, undefined, async (s): Promise<CatalogEntry> => {
    const m = s.manifest;
    if (m) return { id: s.id, status: 'complete', files: m.files.length + m.listed.files, bytes: m.bytes, completedAt: m.completedAt, snapshotSpreadMs: m.snapshotSpreadMs };
    const held = (await dest.list(`${s.id}/`)).filter((e) => e.path !== prunedMarkerPath(s.id));
    const entry: CatalogEntry = { id: s.id, status: s.status, files: held.length, bytes: held.reduce((n, e) => n + e.size, 0) };
    return s.problem ? { ...entry, problem: s.problem } : entry;
  });
}

/** The id of the most recently completed backup set; NotFoundError when there is none. */
export async function latestComplete(config: DestinationConfig): Promise<string> {
  const complete = (await listBackupSets(config)).filter((e) => e.status === 'complete' && e.completedAt);
  const latest = complete.sort((a, b) => Date.parse(a.completedAt!) - Date.parse(b.completedAt!)).pop();
  if (!latest) throw new NotFoundError('there is no complete backup set at the destination');
  return latest.id;
}

/** Reads and validates one backup set's manifest; NotFoundError when the set is absent, incomplete or pruned. */
export async function readManifest(dest: Destination, id: string): Promise<Manifest> {
  return (await readManifestAndDigest(dest, id)).manifest;
}

/** The manifest with the sha256 of its bytes, which restore requests carry to the agents. */
export async function readManifestAndDigest(dest: Destination, id: string): Promise<{ manifest: Manifest; sha256: string }> {
  checkBackupId(id);
  if (await dest.stat(prunedMarkerPath(id))) {
    throw new NotFoundError(`backup set ${id} was pruned (${id}/${PRUNED_MARKER}): its folder only holds files that later sets reference, and it is not a backup; 'tandem list' shows the sets there`);
  }
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
