/**
 * Abort of one backup id on every agent, and removal of what is left of its set at the
 * destination. Used by the run that fails and by the recovery of a run whose coordinator died.
 */
import type { Destination } from '../../shared/destination';
import { errorMessage, nodeError } from '../../shared/errors';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { manifestPath, setFolder, setPrefix } from '../../shared/destination/layout';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';

/** What an Abort everywhere achieved. */
export interface AbortResult {
  /** Agents that could not be reached ("node: why"): their part stays until their lease expires or a recovery reaches them. */
  unreached: string[];
  /** Agents that kept a finished part because the set has a manifest. */
  kept: string[];
  /** What could not be removed at the destination, or ''. */
  leftover: string;
}

/**
 * Sends Abort for `id` to every agent; when every agent undid its part, removes whatever is left
 * under `<id>/` (a manifest's temporary file, an empty folder) unless the set has a manifest.
 * The id was checked unused before its Prepare, so everything under it is this run's.
 */
export async function abortEverywhere(fleet: FleetConfig, dest: Destination, agents: readonly AgentHandle[], id: string, reason: string): Promise<AbortResult> {
  const results = await Promise.allSettled(agents.map((a) => a.abort(id, reason, fleet.backup.abortTimeoutMs)));
  const unreached = results.flatMap((r, i) => (r.status === 'rejected' ? [nodeError(agents[i].node, r.reason)] : []));
  // An agent never undoes a finished part of a complete set (it answers DONE).
  const kept = results.flatMap((r, i) => (r.status === 'fulfilled' && r.value.state === AgentState.DONE ? [agents[i].node] : []));
  const leftover = !unreached.length && !kept.length ? await removeUnfinishedSet(dest, id) : '';
  return { unreached, kept, leftover };
}

/** Words for an AbortResult, appended to the run's reason. */
export function describeAbort(id: string, r: AbortResult): string {
  return (r.unreached.length ? ` (not reached, its part stays until its lease expires or 'tandem recover' reaches it: ${r.unreached.join('; ')})` : '') +
    (r.kept.length ? ` (${r.kept.join(', ')} kept their finished part: the set ${id} has a manifest)` : '') +
    (r.leftover ? ` (${r.leftover})` : '');
}

/** Removes `<id>/` at the destination unless it holds a manifest; returns what went wrong, or ''. */
async function removeUnfinishedSet(dest: Destination, id: string): Promise<string> {
  try {
    const files = await dest.list(setPrefix(id));
    if (files.some((f) => f.path === manifestPath(id))) return `${id} has a manifest at ${dest.describe()}: kept`;
    await dest.remove(setFolder(id));
    return '';
  } catch (err) {
    // The folder is harmless without a manifest (`tandem list` shows it as incomplete); the next recover tries again.
    return `cannot remove ${id}/ at ${dest.describe()}: ${errorMessage(err)}`;
  }
}
