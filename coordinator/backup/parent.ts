/**
 * Chooses the set a new backup builds on: the newest complete set at the destination that holds
 * a part of at least one of the fleet's nodes. Each agent then stores only what its node's part
 * of that set does not hold; a node the parent does not describe stores everything.
 */
import { openDestination, type DestinationConfig } from '../../shared/destination';
import { listBackupSets, readManifestAndDigest } from './catalog';

/** The parent as Prepare carries it. */
export interface ChosenParent {
  backupId: string;
  manifestSha256: string;
}

/** The newest complete set describing any of `nodes`; null when there is none (the backup is then full). */
export async function chooseParent(config: DestinationConfig, nodes: readonly string[]): Promise<ChosenParent | null> {
  const complete = (await listBackupSets(config))
    .filter((e) => e.status === 'complete' && e.completedAt)
    .sort((a, b) => Date.parse(b.completedAt!) - Date.parse(a.completedAt!));
  const dest = openDestination(config);
  for (const e of complete) {
    // A manifest that no longer reads (damaged, another format) is not a parent: the next one is tried.
    const read = await readManifestAndDigest(dest, e.id).catch(() => null);
    if (read && read.manifest.nodes.some((n) => nodes.includes(n.node))) return { backupId: e.id, manifestSha256: read.sha256 };
  }
  return null;
}
