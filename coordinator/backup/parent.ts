/**
 * Chooses the set a new backup builds on: the newest trusted complete set at the destination that
 * holds a part of at least one of the fleet's nodes. Each agent then stores only what its node's
 * part of that set does not hold; a node the parent does not describe stores everything.
 *
 * Only a set whose manifest signature holds can be a parent: the agents read the parent's
 * manifest themselves and refuse one whose sha256 is not the one named here, and every file they
 * take from it (contents.json, the files listing, archives) is checked against that manifest.
 */
import type { Destination } from '../../shared/destination';
import { newestFirst, scanSets } from '../sets/catalog';
import type { SetTrust } from '../sets/trust';

/** The parent as Prepare carries it. */
export interface ChosenParent {
  backupId: string;
  manifestSha256: string;
}

/**
 * The newest trusted complete set describing any of `nodes`, written encrypted when `encrypted`
 * is true and in clear otherwise; null when there is none (the backup is then full). A set never
 * builds on one of the other kind: an encrypted set relying on files in clear would not be wholly
 * encrypted, and a clear set relying on encrypted files would need identities to restore.
 */
export async function chooseParent(dest: Destination, nodes: readonly string[], trust: SetTrust, encrypted = false): Promise<ChosenParent | null> {
  // A manifest that no longer reads (damaged, another format) or is not signed is not complete: it is never a parent.
  for (const s of newestFirst(await scanSets(dest, trust))) {
    if (Boolean(s.manifest.options.setRecipient) !== encrypted) continue;
    if (s.manifest.nodes.some((n) => nodes.includes(n.node))) return { backupId: s.id, manifestSha256: s.sha256! };
  }
  return null;
}
