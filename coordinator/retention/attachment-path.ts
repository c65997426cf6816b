/**
 * Where a listed attachment lives at the destination. An entry without `set` is stored by the set
 * whose listing names it; one with `set` by that earlier set, in the same node's folder.
 * (The files role will export the same rule from shared/parts/files-paths.ts; this is the one
 * place the coordinator's retention code spells it until both use that.)
 */
import type { ListedFile, ListedObject } from '../../shared/parts/files';

/** `<set>/<node>/files/data/<path>` for a folder store, `<set>/<node>/files/s3/<key>` for a bucket store. */
export function attachmentPath(listingSet: string, node: string, entry: ListedFile | ListedObject): string {
  const set = entry.set ?? listingSet;
  return 'key' in entry ? `${set}/${node}/files/s3/${entry.key}` : `${set}/${node}/files/data/${entry.path}`;
}
