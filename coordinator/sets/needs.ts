/**
 * Part of coordinator/sets/, the read side of the destination: what a backup set needs at the
 * destination to stay restorable. That is its own files (archives, schemas, listings, node
 * records), the earlier sets' files it references, every attachment its files listings name
 * (stored by this set or, by the entry's `set`, an earlier one), and, outside the destination,
 * its Elasticsearch snapshot. A prune removes nothing a kept set needs.
 */
import type { Destination } from '../../shared/destination';
import { TandemError, errorMessage } from '../../shared/errors';
import { nodesWith, type Manifest } from '../../shared/manifest';
import { partRefs } from '../../shared/parts';
import { listingAttachments } from '../../shared/parts/files-paths';
import { filesFolder, setKeyInfoPath, setKeyPath, setKeySigPath } from '../../shared/destination/layout';

/** An Elasticsearch snapshot a set holds. */
export interface EsSnapshotRef {
  node: string;
  repository: string;
  snapshot: string;
}

/** Everything one set needs. */
export interface SetNeeds {
  id: string;
  /** Every destination path, its own folder's and other sets'. */
  paths: Set<string>;
  esSnapshots: EsSnapshotRef[];
}

/** The Elasticsearch snapshots a manifest records (none for a --skip-index set, nor for an encrypted one). */
export function esSnapshotsOf(m: Manifest): EsSnapshotRef[] {
  return nodesWith(m, 'elasticsearch').flatMap((n) => {
    const es = n.parts.elasticsearch;
    // An encrypted set's snapshot is in the set (its staging repository was dropped): nothing to delete in Elasticsearch.
    return 'skipped' in es || es.staged ? [] : [{ node: n.node, repository: es.repository.name, snapshot: es.snapshot }];
  });
}

/**
 * Every path `m` needs. Listings are read through their reference (size and sha256 checked): one
 * that cannot be read makes this throw, since what it names cannot be known and so cannot be freed.
 */
export async function needsOf(dest: Destination, m: Manifest): Promise<SetNeeds> {
  const paths = new Set<string>();
  for (const f of m.files) paths.add(f.path);
  for (const r of m.references) paths.add(r.path);
  // An encrypted set's files open only with its set key, and the files it references with theirs:
  // a pruned set's key stays while a kept set relies on its files.
  if (m.options.setRecipient) {
    // The attachments kept from earlier sets are named by the files part (storedIn), not by the references.
    const kept = nodesWith(m, 'files').flatMap((n) => n.parts.files.storedIn ?? []);
    for (const set of new Set([m.id, ...m.references.map((r) => r.set), ...kept])) paths.add(setKeyPath(set)).add(setKeyInfoPath(set)).add(setKeySigPath(set));
  }
  for (const n of m.nodes) {
    paths.add(n.record.path);
    for (const r of partRefs(n.parts)) paths.add(r.path);
  }
  for (const n of nodesWith(m, 'files')) {
    if (m.options.setRecipient) {
      // An encrypted listing opens only with the set key, which retention does not hold: every
      // attachment of this set and of the earlier sets its part names (storedIn) is kept.
      for (const set of new Set([m.id, ...(n.parts.files.storedIn ?? [])])) {
        for (const f of await dest.list(filesFolder(set, n.node))) paths.add(f.path);
      }
      continue;
    }
    try {
      for await (const a of listingAttachments(dest, n.parts.files.listing, m.id, n.node)) paths.add(a.path);
    } catch (err) {
      throw new TandemError(
        `cannot tell which attachments backup set ${m.id} needs: ${errorMessage(err)}; nothing was deleted. Check it with 'tandem verify ${m.id}', or remove it with 'tandem delete ${m.id}'`,
        { backupId: m.id },
        { cause: err },
      );
    }
  }
  return { id: m.id, paths, esSnapshots: esSnapshotsOf(m) };
}
