/**
 * A new backup never reuses an id. A set that exists is never touched by a new backup: if the
 * new run were refused by the agents and aborted, the Abort would concern the old set's id. So
 * before Prepare, the destination and every agent are asked whether they know the id at all.
 */
import * as grpc from '@grpc/grpc-js';
import type { Destination } from '../../shared/destination';
import { errorMessage } from '../../shared/errors';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { manifestPath, setPrefix } from '../../shared/destination/layout';
import { RpcError } from '../../shared/rpc/call';
import type { AgentHandle } from '../fleet';

/** Every trace of `id` at the destination or on an agent, one sentence each; [] when the id is unused. */
export async function traces(destination: Destination, agents: readonly AgentHandle[], id: string, deadlineMs: number): Promise<string[]> {
  const found = await Promise.all([destinationTrace(destination, id), ...agents.map((a) => agentTrace(a, id, deadlineMs))]);
  return found.filter((t): t is string => t !== null);
}

async function destinationTrace(dest: Destination, id: string): Promise<string | null> {
  try {
    const files = await dest.list(setPrefix(id));
    if (!files.length) return null;
    const kind = files.some((f) => f.path === manifestPath(id)) ? 'a complete set' : 'an incomplete set (no manifest)';
    return `${dest.describe()} holds ${kind} ${id} (${files.length} files)`;
  } catch (err) {
    // Unknown is not unused: a set that cannot be seen might still be there.
    return `cannot list ${id}/ at ${dest.describe()}: ${errorMessage(err)}`;
  }
}

async function agentTrace(a: AgentHandle, id: string, deadlineMs: number): Promise<string | null> {
  try {
    const s = await a.status(id, deadlineMs);
    return `${a.node} already has backup ${id} (${AgentState[s.state].toLowerCase()})`;
  } catch (err) {
    if (err instanceof RpcError && err.code === grpc.status.NOT_FOUND) return null;
    return `${a.node} cannot tell whether it knows ${id}: ${errorMessage(err)}`;
  }
}
