/**
 * A removed set's Elasticsearch snapshot lives in Elasticsearch's repository, not at the
 * destination: the agent with the elasticsearch role deletes it (DeleteSnapshot, over mutual TLS,
 * with a deadline). Preferably the agent of the node that took it; any agent with the role else.
 */
import { PreconditionError, errorMessage } from '../../shared/errors';
import type { AgentHandle } from '../fleet';
import type { EsSnapshotRef } from '../sets/needs';

/** Deadline of one DeleteSnapshot: Elasticsearch frees the snapshot's segments before it answers; 120 s. */
export const DELETE_SNAPSHOT_DEADLINE_MS = 120_000;

/** Deletes every snapshot of `snapshots`; true for each that existed. Throws PreconditionError naming the snapshot on the first failure. */
export async function deleteEsSnapshots(agents: readonly AgentHandle[], snapshots: readonly EsSnapshotRef[], deadlineMs = DELETE_SNAPSHOT_DEADLINE_MS): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const s of snapshots) {
    const withRole = agents.filter((a) => a.entry.roles.includes('elasticsearch'));
    const agent = withRole.find((a) => a.node === s.node) ?? withRole[0];
    if (!agent) {
      throw new PreconditionError(
        `no agent of the fleet has the elasticsearch role to delete snapshot ${s.repository}/${s.snapshot}: add that agent to the fleet file and run the prune again (the set stays marked as pruned until then)`,
        { snapshot: s.snapshot },
      );
    }
    try {
      out.push((await agent.deleteSnapshot(s.repository, s.snapshot, deadlineMs)).existed);
    } catch (err) {
      throw new PreconditionError(
        `${agent.node} could not delete Elasticsearch snapshot ${s.repository}/${s.snapshot}: ${errorMessage(err)}; the set stays marked as pruned, and the next prune tries again`,
        { node: agent.node, snapshot: s.snapshot },
        { cause: err },
      );
    }
  }
  return out;
}
