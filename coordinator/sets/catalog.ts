/**
 * The catalog of coordinator/sets/ (the read side of the destination): the backup sets present
 * at a destination and what each is. Complete ones have a manifest whose signature
 * holds (trust.ts decides). Only the top-level folders are listed and each one's manifest
 * read: a destination of hundreds of sets of thousands of files each is never listed file by
 * file (only incomplete, untrusted and pruned folders, whose size is shown, are).
 */
import type { Destination } from '../../shared/destination';
import { PRUNED_MARKER, prunedMarkerPath, prunedSignaturePath, setPrefix } from '../../shared/destination/layout';
import { errorMessage, NotFoundError } from '../../shared/errors';
import type { Manifest } from '../../shared/manifest';
import { BACKUP_ID } from '../../shared/names';
import { runPool } from '../../shared/pool';
import { readMarker } from './marker';
import { manifestVerdict, type SetTrust, type UntrustedReason } from './trust';

/**
 * What a folder at the destination is: `complete` (a trusted manifest), `incomplete` (no manifest:
 * a backup never finished, or still running), `pruned` (a set a prune removed, or is removing,
 * whose folder still holds files later sets need; its marker signed), `untrusted` (a manifest
 * whose signature or fields do not hold: planted, altered, or written before sets were signed;
 * never used, never touched by a prune), `unreadable` (a signed manifest this tandem cannot read,
 * of another format, or a folder the destination did not let be read; never touched by a prune).
 */
export type SetStatus = 'complete' | 'incomplete' | 'pruned' | 'untrusted' | 'unreadable';

/** One backup set as listed. */
export interface CatalogEntry {
  id: string;
  status: SetStatus;
  files: number;
  bytes: number;
  completedAt?: string;
  snapshotSpreadMs?: number | null;
  /** Why an untrusted set is not believed. */
  reason?: UntrustedReason;
  /** Why the manifest of an unreadable or untrusted set is not used. */
  problem?: string;
  /** A pruned.json in the folder that was ignored, and why (unsigned, another folder's). */
  ignoredMarker?: string;
}

/** One folder of the destination's root, with its manifest when it is trusted. */
export interface ScannedSet {
  id: string;
  status: SetStatus;
  manifest: Manifest | null;
  /** sha256 of the trusted manifest's bytes. */
  sha256?: string;
  reason?: UntrustedReason;
  problem?: string;
  ignoredMarker?: string;
  /** Unreadable because the destination failed to answer (not because of what the folder holds). */
  readError?: boolean;
}

/** How many folders are looked at at once (stat, read): a remote destination answers each in a round trip. */
const SCAN_PARALLELISM = 8;

/** Every backup set folder at the root, sorted by id; folders whose name is not a backup id are not tandem's and are left out. */
export async function scanSets(dest: Destination, trust: SetTrust): Promise<ScannedSet[]> {
  const ids = (await dest.folders('')).filter((id) => BACKUP_ID.test(id));
  return runPool(ids, SCAN_PARALLELISM, undefined, (id) => scanSet(dest, id, trust));
}

/** Attempts at reading one folder before a read error of the destination makes it unreadable. */
const SCAN_ATTEMPTS = 3;

/**
 * One folder's status. A read error of the destination (a timeout, a connection reset) is tried
 * again, twice, after 0.5 s and 1 s; one that lasts makes the folder unreadable, never complete
 * or removable, and a prune then removes nothing (retention/prune.ts).
 */
export async function scanSet(dest: Destination, id: string, trust: SetTrust, pauseMs = 500): Promise<ScannedSet> {
  for (let attempt = 1; ; attempt++) {
    const s = await scanSetOnce(dest, id, trust);
    if (!s.readError || attempt === SCAN_ATTEMPTS) return s;
    await new Promise((r) => setTimeout(r, pauseMs * attempt));
  }
}

async function scanSetOnce(dest: Destination, id: string, trust: SetTrust): Promise<ScannedSet> {
  try {
    let ignoredMarker: string | undefined;
    if (await dest.stat(prunedMarkerPath(id))) {
      const marker = await readMarker(dest, id, trust);
      // A signed marker wins over a manifest: a prune killed between the two is still a prune under way.
      if (marker.kind === 'trusted') return { id, status: 'pruned', manifest: null };
      if (marker.kind === 'untrusted') ignoredMarker = `${PRUNED_MARKER} ignored (${marker.reason}: ${marker.detail})`;
    }
    const with_ = (s: ScannedSet): ScannedSet => (ignoredMarker ? { ...s, ignoredMarker } : s);
    const v = await manifestVerdict(dest, id, trust);
    if (!v) return with_({ id, status: 'incomplete', manifest: null });
    if (v.kind === 'trusted') return with_({ id, status: 'complete', manifest: v.manifest, sha256: v.sha256 });
    if (v.kind === 'untrusted') return with_({ id, status: 'untrusted', manifest: null, reason: v.reason, problem: v.detail });
    return with_({ id, status: 'unreadable', manifest: null, problem: v.problem });
  } catch (err) {
    return { id, status: 'unreadable', manifest: null, problem: `reading it failed: ${errorMessage(err)}`, readError: true };
  }
}

/** Lists every backup set folder at the destination, sorted by id (newest generated id last); `scanned` when scanSets already ran. */
export async function listBackupSets(dest: Destination, trust: SetTrust, scanned?: readonly ScannedSet[]): Promise<CatalogEntry[]> {
  return runPool(scanned ?? (await scanSets(dest, trust)), SCAN_PARALLELISM, undefined, async (s): Promise<CatalogEntry> => {
    const m = s.manifest;
    const notes = { ...(s.reason ? { reason: s.reason } : {}), ...(s.problem ? { problem: s.problem } : {}), ...(s.ignoredMarker ? { ignoredMarker: s.ignoredMarker } : {}) };
    if (m) return { id: s.id, status: 'complete', files: m.files.length + m.listed.files, bytes: m.bytes, completedAt: m.completedAt, snapshotSpreadMs: m.snapshotSpreadMs, ...notes };
    const own = new Set([prunedMarkerPath(s.id), prunedSignaturePath(s.id)]);
    const held = (await dest.list(setPrefix(s.id))).filter((e) => !own.has(e.path));
    return { id: s.id, status: s.status, files: held.length, bytes: held.reduce((n, e) => n + e.size, 0), ...notes };
  });
}

/** The trusted complete sets, newest completedAt first. */
export function newestFirst(sets: readonly ScannedSet[]): (ScannedSet & { manifest: Manifest })[] {
  return sets
    .filter((s): s is ScannedSet & { manifest: Manifest } => s.status === 'complete' && s.manifest !== null)
    .sort((a, b) => Date.parse(b.manifest.completedAt) - Date.parse(a.manifest.completedAt) || b.id.localeCompare(a.id));
}

/** The id of the most recently completed trusted backup set; NotFoundError when there is none. */
export async function latestComplete(dest: Destination, trust: SetTrust): Promise<string> {
  const latest = newestFirst(await scanSets(dest, trust))[0];
  if (!latest) throw new NotFoundError("there is no complete (signed) backup set at the destination; 'tandem list' shows the sets there and why others are not used");
  return latest.id;
}
