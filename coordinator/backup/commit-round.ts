/**
 * The sending of the commit round. Every agent's Commit call is opened with its request first
 * (its HTTP/2 stream, headers, TLS, the agent's check of the coordinator's certificate, the
 * request decoded), and the agent announces that it holds it; only then is every call ended, in
 * one synchronous loop. An agent runs Commit when the call's end arrives: one empty frame each,
 * that no other agent's TLS or HTTP/2 work stands in front of, on the coordinator or on an agent
 * host. A call that ends before (refused, unreachable) stops the round: no call is ended.
 *
 * A held call must not be cancelled before the agents are told to abort: cancelling an HTTP/2
 * stream (Node's RST_STREAM) first flushes its end, on which the agent would run the Commit it
 * holds. So a stopped round's calls are released (cancelled) by the caller after its Abort has
 * reached every agent; a Commit that then arrives is refused, its backup being aborted. A
 * coordinator that dies holding the calls sends no end, and the agent does not take the close
 * of a lost connection for one (agent/rpc/announce.ts).
 */
import type { CommitResponse } from '../../shared/generated/tandem/v2/agent';
import { errorMessage } from '../../shared/errors';
import type { AgentHandle } from '../fleet';

/**
 * How long, in ms, the round waits for the agents to announce that they hold the request (their
 * response headers); the calls of an agent that never does (one older than this coordinator) are
 * ended after this anyway. Default 5000: 500 agents on 5 processes of one loaded 2-core machine
 * took 2 s to hold every request; a fleet whose agents have a host each takes a round trip.
 */
export const READY_WAIT_MS = 5000;

/** The commit round: every agent's answer, or why no Commit was sent. */
export type CommitRound =
  | { sent: true; results: PromiseSettledResult<CommitResponse>[] }
  | { sent: false; unopened: string[]; release(): void };

/**
 * Opens every agent's Commit, then ends them all at once; ends none when one call ended before
 * (then abort, then release()). `deadlineMs` is the Commit's own: the time a call is held before
 * its end is added to it, since a deadline that ran out while a call is held would cancel it, and
 * a cancel sends the end the agent commits on (with commitTimeoutMs under the 5 s wait, it did).
 */
export async function commitRound(agents: readonly AgentHandle[], backupId: string, deadlineMs: number, readyWaitMs = READY_WAIT_MS): Promise<CommitRound> {
  const calls = agents.map((a) => a.openCommit(backupId, readyWaitMs + deadlineMs));
  // A call can fail before anything waits on its answer (an agent that is down): that is read
  // below, not an unhandled rejection.
  calls.forEach((c) => c.response.catch(() => undefined));
  const ended: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(calls.map((c, i) => c.ready.then((ok) => void (ok || ended.push(i))))),
    new Promise((r) => (timer = setTimeout(r, readyWaitMs))),
  ]);
  clearTimeout(timer);
  if (ended.length) {
    const why = await Promise.all(ended.sort((x, y) => x - y).map((i) => calls[i].response.then(() => `${agents[i].node}: answered before the call was ended`, (err) => errorMessage(err))));
    return { sent: false, unopened: why, release: () => calls.forEach((c) => c.cancel()) };
  }
  for (const c of calls) c.halfClose();
  return { sent: true, results: await Promise.allSettled(calls.map((c) => c.response)) };
}
