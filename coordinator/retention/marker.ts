/**
 * `<id>/pruned.json`: written before a pruned set's manifest is removed. From then on the folder
 * is no longer a backup set but, at most, the store of files that later (kept) sets reference,
 * and it must never be taken for a fresh incomplete backup, be chosen as a parent or be restored.
 * It also records the set's Elasticsearch snapshots, so a prune killed after the manifest was
 * removed still knows them.
 */
import { z } from 'zod';
import type { Destination } from '../../shared/destination';
import { ES_REPOSITORY, ES_SNAPSHOT, nameSchema, NODE_NAME } from '../../shared/names';
import { parseJson } from '../../shared/parts/io';
import { readAll } from '../../shared/destination';
import type { EsSnapshotRef } from './references';

/** The marker's file name inside the set's folder. */
export const PRUNED_MARKER = 'pruned.json';
/** The marker's path at the destination. */
export const prunedMarkerPath = (id: string) => `${id}/${PRUNED_MARKER}`;

const markerSchema = z.strictObject({
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

/** Writes the marker atomically. */
export async function writeMarker(dest: Destination, id: string, esSnapshots: readonly EsSnapshotRef[]): Promise<void> {
  const marker: PrunedMarker = { format: 'tandem.pruned/v1', id, prunedAt: new Date().toISOString(), esSnapshots: [...esSnapshots] };
  await dest.writeAtomic(prunedMarkerPath(id), JSON.stringify(marker) + '\n');
}

/** Reads a marker back (input from the destination, parsed strictly); ValidationError naming the file otherwise. */
export async function readMarker(dest: Destination, id: string): Promise<PrunedMarker> {
  return parseJson(await readAll(dest, prunedMarkerPath(id)), markerSchema, prunedMarkerPath(id), 'pruned-set marker');
}
