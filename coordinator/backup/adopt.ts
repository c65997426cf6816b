/**
 * `tandem adopt ID`: signs a set written before sets were signed, once it has proved whole. The
 * manifest's bytes are read once, checked as a signed one would be (about its folder, real dates,
 * nodes), every file it names is re-read and its sha256 compared (the verify path, the
 * Elasticsearch snapshot confirmed by an agent), and only then are exactly those bytes signed:
 * a manifest that changes meanwhile is refused. A folder pruned before sets were signed has its
 * pruned.json signed, after it is checked to name its own folder and snapshot.
 *
 * Adopting vouches for what the set's manifest says: adopt only sets this fleet wrote.
 */
import type { Destination } from '../../shared/destination';
import { MANIFEST_FILE, manifestPath, manifestSignaturePath, PRUNED_MARKER, prunedMarkerPath, prunedSignaturePath, setPrefix } from '../../shared/destination/layout';
import { ConflictError, NotFoundError, TandemError } from '../../shared/errors';
import { manifestDigest } from '../../shared/manifest';
import { checkBackupId, esSnapshotFor } from '../../shared/names';
import { parseJson } from '../../shared/parts/io';
import { MANIFEST_MAX_BYTES, MARKER_MAX_BYTES, readCapped, signatureFor } from '../../shared/signing';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { markerSchema, readMarker } from '../sets/marker';
import { signingOf } from '../signing';
import { scanSet } from '../sets/catalog';
import { judgeManifest, untrustedAdvice } from '../sets/trust';
import { verifyBackupSet } from '../sets/verify';

/** What adopt did. */
export interface AdoptResult {
  id: string;
  /** `adopted`: signed now; `signed`: it already was, nothing written. */
  outcome: 'adopted' | 'signed';
  /** What was signed: the set's manifest, or the marker of a pruned folder. */
  file: 'manifest.json' | 'pruned.json';
  keyId: string;
  /** Files and bytes verified (manifest only). */
  files: number;
  bytes: number;
}

/** A set that is not adopted: verification failed, or it is not a set adopt can sign. */
export class AdoptRefusedError extends TandemError {}

/** Checks set `id` at `dest` (the destination the verb opened) in full and signs it with the fleet's key; AdoptRefusedError naming what failed. */
export async function adoptSet(fleet: FleetConfig, dest: Destination, id: string, agents: readonly AgentHandle[], say: (line: string) => void, onFile?: (path: string) => void): Promise<AdoptResult> {
  checkBackupId(id);
  const signing = signingOf(fleet);
  const trust = { keys: signing.trusted };
  const s = await scanSet(dest, id, trust);
  const done = (file: AdoptResult['file'], outcome: AdoptResult['outcome'], files = 0, bytes = 0): AdoptResult => ({ id, outcome, file, keyId: signing.key.keyId, files, bytes });
  if (s.status === 'complete') return done('manifest.json', 'signed');
  if (s.status === 'pruned') return done('pruned.json', 'signed');
  if (s.status === 'unreadable') throw new AdoptRefusedError(`backup set ${id} is not adopted: it cannot be read (${s.problem})`, { backupId: id });
  if (s.status === 'incomplete') {
    if (s.ignoredMarker) return adoptMarker(fleet, dest, id, say).then(() => done('pruned.json', 'adopted'));
    const any = (await dest.list(setPrefix(id))).length > 0;
    throw new NotFoundError(any ? `backup set ${id} is incomplete (no manifest): it was never finished, there is nothing to adopt` : `no backup set ${id} at ${dest.describe()}; 'tandem list' shows the sets there`);
  }
  if (s.reason !== 'unsigned') throw new AdoptRefusedError(`${untrustedAdvice(id, s.reason!, s.problem ?? '')}; adopt signs only unsigned sets`, { backupId: id });

  const body = await readCapped(dest, manifestPath(id), MANIFEST_MAX_BYTES);
  if (!body) throw new ConflictError(`${manifestPath(id)} went away while it was adopted: nothing signed`);
  // The checks a signed manifest passes, before any file is read on its word.
  const judged = judgeManifest(body, id, '', Date.now());
  if (judged.kind === 'unreadable') throw new AdoptRefusedError(`backup set ${id} is not adopted: ${judged.problem}`, { backupId: id });
  if (judged.kind === 'untrusted') throw new AdoptRefusedError(`backup set ${id} is not adopted (${judged.reason}): ${judged.detail}`, { backupId: id });
  say(`verifying every file of ${id} (${judged.manifest.files.length + judged.manifest.references.length} files and the attachments its listings name) before signing it`);
  const report = await verifyBackupSet(dest, id, { es: { agents, destination: fleet.destination }, manifest: { manifest: judged.manifest, sha256: judged.sha256 }, onFile });
  if (!report.ok) {
    const shown = report.problems.slice(0, 10);
    throw new AdoptRefusedError(
      `backup set ${id} is not adopted: verification found ${report.problems.length} problem(s): ${shown.join('; ')}${report.problems.length > shown.length ? '; …' : ''}. Nothing was signed; the set stays untrusted`,
      { backupId: id },
    );
  }
  // The bytes signed are the bytes verified: a manifest changed during the check is not signed.
  const again = await readCapped(dest, manifestPath(id), MANIFEST_MAX_BYTES);
  if (!again || manifestDigest(again) !== judged.sha256) throw new ConflictError(`${manifestPath(id)} changed while ${id} was verified: nothing signed; look at who writes the destination`, { backupId: id });
  await dest.writeAtomic(manifestSignaturePath(id), signatureFor(signing.key, MANIFEST_FILE, body));
  return done('manifest.json', 'adopted', report.files, report.bytes);
}

/** Signs the pruned.json of a folder pruned before sets were signed, once it names its own folder and snapshot only. */
async function adoptMarker(fleet: FleetConfig, dest: Destination, id: string, say: (line: string) => void): Promise<void> {
  const signing = signingOf(fleet);
  const verdict = await readMarker(dest, id, { keys: signing.trusted });
  if (verdict.kind !== 'untrusted' || verdict.reason !== 'unsigned') {
    throw new AdoptRefusedError(`${prunedMarkerPath(id)} is not adopted: ${verdict.kind === 'untrusted' ? `${verdict.reason}: ${verdict.detail}` : 'it changed meanwhile'}; adopt signs only unsigned markers`, { backupId: id });
  }
  const body = await readCapped(dest, prunedMarkerPath(id), MARKER_MAX_BYTES);
  if (!body) throw new ConflictError(`${prunedMarkerPath(id)} went away while it was adopted: nothing signed`);
  const marker = parseJson(body, markerSchema, prunedMarkerPath(id), 'pruned-set marker');
  if (marker.id !== id) throw new AdoptRefusedError(`${prunedMarkerPath(id)} names backup set ${JSON.stringify(marker.id)}, not its folder ${id}: not adopted`, { backupId: id });
  const foreign = marker.esSnapshots.filter((e) => e.snapshot !== esSnapshotFor(id));
  if (foreign.length) throw new AdoptRefusedError(`${prunedMarkerPath(id)} names Elasticsearch snapshot ${foreign.map((e) => e.snapshot).join(', ')}, which is not set ${id}'s: not adopted`, { backupId: id });
  say(`${id} is the folder of a pruned set; signing its ${PRUNED_MARKER}`);
  await dest.writeAtomic(prunedSignaturePath(id), signatureFor(signing.key, PRUNED_MARKER, body));
}
