/**
 * Part of coordinator/sets/, the read side of the destination: the pruned-set marker, its one
 * schema, its reader, and its writer (a prune's, kept beside the schema it writes).
 *
 * `<id>/pruned.json`: written before a pruned set's manifest is removed. From then on the folder
 * is no longer a backup set but, at most, the store of files that later (kept) sets reference,
 * and it must never be taken for a fresh incomplete backup, be chosen as a parent or be restored.
 * It also records the set's Elasticsearch snapshots, so a prune killed after the manifest was
 * removed still knows them.
 *
 * `<id>/pruned.sig` signs it, written before it: a marker without a trusted signature, or one
 * naming another folder, is planted and ignored (reported), so it can neither hide a set from
 * the policy nor get it deleted.
 */
import { z } from 'zod';
import type { Destination } from '../../shared/destination';
import { PRUNED_MARKER, PRUNED_SIGNATURE, prunedMarkerPath, prunedSignaturePath } from '../../shared/destination/layout';
import { ES_REPOSITORY, ES_SNAPSHOT, nameSchema, NODE_NAME } from '../../shared/names';
import { parseJson } from '../../shared/parts/io';
import { MARKER_MAX_BYTES, signatureFor, type SigningKey } from '../../shared/signing';
import { readSigned, type SetTrust, type UntrustedReason } from './trust';
import type { EsSnapshotRef } from './needs';

/** A marker as read back. */
export const markerSchema = z.strictObject({
  format: z.literal('tandem.pruned/v1'),
  id: z.string(),
  /** When the prune began removing the set, ISO 8601. */
  prunedAt: z.string(),
  esSnapshots: z.array(z.strictObject({
    node: nameSchema('node name', NODE_NAME),
    repository: nameSchema('Elasticsearch repository name', ES_REPOSITORY),
    snapshot: nameSchema('Elasticsearch snapshot name', ES_SNAPSHOT),
  })),
});

/** What a marker says. */
export type PrunedMarker = z.output<typeof markerSchema>;

/** Writes the signature, then the marker, each atomically: a marker is never there unsigned. */
export async function writeMarker(dest: Destination, id: string, esSnapshots: readonly EsSnapshotRef[], key: SigningKey): Promise<void> {
  const marker: PrunedMarker = { format: 'tandem.pruned/v1', id, prunedAt: new Date().toISOString(), esSnapshots: [...esSnapshots] };
  const body = JSON.stringify(marker) + '\n';
  await dest.writeAtomic(prunedSignaturePath(id), signatureFor(key, PRUNED_MARKER, body));
  await dest.writeAtomic(prunedMarkerPath(id), body);
}

/** A marker's verdict: believed (what it says), ignored (why), or absent. */
export type MarkerVerdict = { kind: 'trusted'; marker: PrunedMarker } | { kind: 'untrusted'; reason: UntrustedReason; detail: string } | { kind: 'absent' };

/** Reads `<id>/pruned.json` back through its signature and checks it names its own folder; never throws for its content. */
export async function readMarker(dest: Destination, id: string, trust: SetTrust): Promise<MarkerVerdict> {
  const signed = await readSigned(dest, id, PRUNED_MARKER, PRUNED_SIGNATURE, MARKER_MAX_BYTES, trust);
  if (signed === 'absent') return { kind: 'absent' };
  if (signed.kind === 'untrusted') return signed;
  let marker: PrunedMarker;
  try {
    marker = parseJson(signed.body, markerSchema, prunedMarkerPath(id), 'pruned-set marker');
  } catch (err) {
    return { kind: 'untrusted', reason: 'invalid-field', detail: (err as Error).message };
  }
  if (marker.id !== id) return { kind: 'untrusted', reason: 'folder-mismatch', detail: `${prunedMarkerPath(id)} names backup set ${JSON.stringify(marker.id)}, not its folder ${id}` };
  return { kind: 'trusted', marker };
}
