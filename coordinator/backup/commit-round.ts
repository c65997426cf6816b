/**
 * The sending of the commit round. Every agent's Commit call is opened with its request first
 * (its HTTP/2 stream, headers, TLS, the agent's check of the coordinator's certificate, the
 * request decoded), and the agent announces that it holds it; only then is every call ended, in
 * one synchronous loop. An agent runs Commit when the call's end arrives: one empty frame each,
 * that no other agent's TLS or HTTP/2 work stands in front of, on the coordinator or on an agent
 * host. A call that ends before (refused, unreachable) stops the round: no call is ended.
 *
 * A call is opened as soon as its agent votes yes (open()), while the other votes are still
 * coming: that work then overlaps the slowest agents' Prepare instead of following it. A held
 * call is not a Commit: the agent runs nothing until its end arrives, and it tells the end of a
 * connection lost with a coordinator that died from a call's end (agent/rpc/announce.ts).
 *
 * A held call must not be cancelled before the agents are told to abort: cancelling an HTTP/2
 * stream (Node's RST_STREAM) first flushes its end, on which the agent would run the Commit it
 * holds. So a stopped round's calls are released (cancelled) by the caller after its Abort has
 * reached every agent; a Commit that then arrives is refused, its backup being aborted. For the
 * same reason a held call's gRPC deadline (whose expiry cancels it) covers the whole wait for
 * the votes; the commit timeout is kept by the coordinator from the instant the call is ended.
 */
import * as grpc from '@grpc/grpc-js';
import type { CommitResponse } from '../../shared/generated/tandem/v2/agent';
import { errorMessage } from '../../shared/errors';
import { RpcError, type OpenedUnary } from '../../shared/rpc/call';
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
  | { sent: false; unopened: string[] };

/** Every agent's Commit call, opened ahead and held until send(). */
export class HeldCommits {
  private readonly calls: (OpenedUnary<CommitResponse> | undefined)[];
  private ended = false;

  /** `holdMs`: how long a call may be held before send() ends it (the gRPC deadline of a held call). */
  constructor(
    private readonly agents: readonly AgentHandle[],
    private readonly backupId: string,
    private readonly holdMs: number,
  ) {
    this.calls = agents.map(() => undefined);
  }

  /** Opens agent i's call with its request, held; once only. Nothing runs on the agent. */
  open(i: number): void {
    if (this.calls[i] || this.ended) return;
    const call = this.agents[i].openCommit(this.backupId, this.holdMs);
    // A call can fail before anything waits on its answer (an agent that is down): that is read
    // in send(), not an unhandled rejection.
    call.response.catch(() => undefined);
    this.calls[i] = call;
  }

  /**
   * Opens the calls not opened yet, waits until every agent holds its request, then ends them
   * all at once; ends none when one call ended before (then abort, then release()). Each answer
   * must come within `commitTimeoutMs` of the end.
   */
  async send(commitTimeoutMs: number, readyWaitMs = READY_WAIT_MS): Promise<CommitRound> {
    this.agents.forEach((_, i) => this.open(i));
    const calls = this.calls as OpenedUnary<CommitResponse>[];
    const stopped: number[] = [];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(calls.map((c, i) => c.ready.then((ok) => void (ok || stopped.push(i))))),
      new Promise((r) => (timer = setTimeout(r, readyWaitMs))),
    ]);
    clearTimeout(timer);
    if (stopped.length) {
      const why = await Promise.all(stopped.sort((x, y) => x - y).map((i) => calls[i].response.then(() => `${this.agents[i].node}: answered before the call was ended`, (err) => errorMessage(err))));
      return { sent: false, unopened: why };
    }
    this.ended = true;
    for (const c of calls) c.halfClose();
    return { sent: true, results: await Promise.allSettled(calls.map((c, i) => answerWithin(c, this.agents[i].node, commitTimeoutMs))) };
  }

  /** Cancels every call still held: only once the Abort has reached the agents (see above). */
  release(): void {
    this.ended = true;
    for (const c of this.calls) c?.cancel();
  }
}

/** The call's answer, or DEADLINE_EXCEEDED (and the call cancelled: its end is sent already) after `ms`. */
function answerWithin(call: OpenedUnary<CommitResponse>, node: string, ms: number): Promise<CommitResponse> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      call.cancel();
      reject(new RpcError(node, 'commit', grpc.status.DEADLINE_EXCEEDED, `no answer within ${ms} ms of the Commit`));
    }, ms);
  });
  return Promise.race([call.response, late]).finally(() => clearTimeout(timer));
}

/** Opens every agent's Commit, then ends them all at once: HeldCommits in one step, for a caller with every vote in hand. */
export async function commitRound(agents: readonly AgentHandle[], backupId: string, deadlineMs: number, readyWaitMs = READY_WAIT_MS): Promise<CommitRound & { release(): void }> {
  const held = new HeldCommits(agents, backupId, deadlineMs + readyWaitMs);
  return Object.assign(await held.send(deadlineMs, readyWaitMs), { release: () => held.release() });
}
