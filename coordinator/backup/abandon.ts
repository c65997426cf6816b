/**
 * `tandem recover --abandon ID`: the operator's end for a run recovery cannot decide, because an
 * agent that took part is gone for good (a host decommissioned, a disk lost). Without it the run
 * stays open in the journal and every later backup tries it again and prints it again.
 *
 * The reachable agents undo their part (Abort, as a failed run does); whatever an unreachable agent
 * wrote stays at the destination. That is safe to leave: the set has no manifest, so no verb ever
 * takes it for a backup (list shows it incomplete, no restore or parent choice uses it), and once
 * the journal has no open run for it, `tandem prune` removes it after its grace time. The entry is
 * closed in step "abandoned", with the operator's reason and what was left where.
 */
import type { Destination } from '../../shared/destination';
import { NotFoundError, PreconditionError } from '../../shared/errors';
import { manifestPath, setPrefix } from '../../shared/destination/layout';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { abortEverywhere } from './abort';
import { FINISHED_STEPS, type Journal } from './journal';

/** What abandoning one run did. */
export interface Abandoned {
  id: string;
  /** The step the run had reached. */
  from: string;
  /** Nodes that undid their part. */
  undone: string[];
  /** Agents not reached ("node: why"): their part stays at the destination. */
  unreached: string[];
  /** What is left at the destination and what removes it, or '' when nothing is. */
  left: string;
  /** The reason recorded in the journal. */
  reason: string;
}

/**
 * Closes the open journal entry of `id` as abandoned, after Abort on every agent. Refuses an id
 * with no open entry, and a set that has a manifest (it is complete: `tandem recover` records it).
 */
export async function abandonRun(fleet: FleetConfig, dest: Destination, agents: readonly AgentHandle[], journal: Journal, id: string, why: string): Promise<Abandoned> {
  const entry = journal.entries().find((e) => e.backupId === id);
  if (!entry) throw new NotFoundError(`backup ${id} is not in the journal (${journal.dir}): nothing to abandon; 'tandem status' lists the unfinished runs`);
  if (FINISHED_STEPS.has(entry.step)) throw new PreconditionError(`backup ${id} is not open in the journal: it ended (${entry.step}${entry.reason ? `: ${entry.reason}` : ''}); nothing to abandon`);
  if (await dest.stat(manifestPath(id))) {
    throw new PreconditionError(`backup ${id} has a manifest at ${dest.describe()}: the set is complete, not abandoned; run 'tandem recover', which records it as complete`);
  }
  const a = await abortEverywhere(fleet, dest, agents, id, `abandoned by the operator: ${why}`);
  if (a.kept.length) throw new PreconditionError(`backup ${id}: ${a.kept.join(', ')} answered that the set is complete; run 'tandem recover' instead of abandoning it`);
  const unreachedNodes = new Set(a.unreached.map((u) => u.split(':')[0]));
  const undone = agents.map((x) => x.node).filter((n) => !unreachedNodes.has(n));
  const folder = `${setPrefix(id)} at ${dest.describe()}`;
  const left = a.unreached.length
    ? `what ${[...unreachedNodes].join(', ')} wrote stays under ${folder}; the set has no manifest, so it is never taken for a backup: remove that folder, or let 'tandem prune' clear it once it is older than its grace time`
    : a.leftover
      ? `${a.leftover}; the set has no manifest, so it is never taken for a backup: remove that folder, or let 'tandem prune' clear it`
      : '';
  const reason = [`abandoned by the operator: ${why}`, a.unreached.length ? `not reached: ${a.unreached.join('; ')}` : '', left].filter(Boolean).join('; ');
  journal.step(entry, 'abandoned', reason);
  return { id, from: entry.step, undone, unreached: a.unreached, left, reason };
}
