/**
 * The manifest reader of coordinator/sets/: the one way a verb gets the manifest of a set it was
 * named (restore, drill, show, verify, report). It reads the folder through the catalog's scan,
 * so a pruned, incomplete, untrusted or unreadable set is refused by name, saying what to do,
 * and only a manifest whose signature holds is ever handed out.
 */
import type { Destination } from '../../shared/destination';
import { prunedMarkerPath, setPrefix } from '../../shared/destination/layout';
import { NotFoundError, TandemError } from '../../shared/errors';
import type { Manifest } from '../../shared/manifest';
import { checkBackupId } from '../../shared/names';
import { scanSet } from './catalog';
import { untrustedAdvice, type SetTrust } from './trust';

/** A set whose manifest is there but not believed: refused by name, saying what to do. */
export class UntrustedSetError extends TandemError {}

/** Reads one trusted backup set's manifest; NotFoundError when the set is absent, incomplete or pruned, UntrustedSetError when it is untrusted. */
export async function readManifest(dest: Destination, id: string, trust: SetTrust): Promise<Manifest> {
  return (await readManifestAndDigest(dest, id, trust)).manifest;
}

/** The trusted manifest with the sha256 of its bytes, which restore requests carry to the agents. */
export async function readManifestAndDigest(dest: Destination, id: string, trust: SetTrust): Promise<{ manifest: Manifest; sha256: string }> {
  checkBackupId(id);
  const s = await scanSet(dest, id, trust);
  if (s.status === 'complete' && s.manifest) return { manifest: s.manifest, sha256: s.sha256! };
  if (s.status === 'pruned') {
    throw new NotFoundError(`backup set ${id} was pruned (${prunedMarkerPath(id)}): its folder only holds files that later sets reference, and it is not a backup; 'tandem list' shows the sets there`);
  }
  if (s.status === 'untrusted') throw new UntrustedSetError(untrustedAdvice(id, s.reason!, s.problem ?? ''), { backupId: id });
  if (s.status === 'unreadable') throw new TandemError(`backup set ${id} cannot be read: ${s.problem}`, { backupId: id });
  const any = (await dest.list(setPrefix(id))).length > 0;
  throw new NotFoundError(
    any
      ? `backup set ${id} is incomplete (no manifest): it was never finished and is not a backup`
      : `no backup set ${id} at ${dest.describe()}; 'tandem list' shows the sets there`,
  );
}
