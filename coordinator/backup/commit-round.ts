/**
 * The sending of the commit round. Every agent's Commit call is opened first (its HTTP/2 stream,
 * its headers, the agent's check of the coordinator's certificate), and only then is every
 * request sent, in one synchronous loop with nothing to encode: each Commit is one small frame
 * that no other agent's TLS or HTTP/2 work stands in front of, on the coordinator or on an agent
 * host. A call that cannot even be opened stops the round before any Commit is sent.
 */
import type { CommitResponse } from '../../shared/generated/tandem/v2/agent';
import { errorMessage } from '../../shared/errors';
import type { AgentHandle } from '../fleet';

/**
 * How long, in ms, the round waits for the agents to announce their calls ready (their response
 * headers, sent once authorized); an agent that never does (one older than this coordinator) is
 * sent its Commit after this anyway. Default 1000.
 */
export const READY_WAIT_MS = 1000;

/** The commit round: every agent's answer, or why no Commit was sent. */
export type CommitRound =
  | { sent: true; results: PromiseSettledResult<CommitResponse>[] }
  | { sent: false; unopened: string[] };

/** Opens every agent's Commit, then sends them all at once; sends none when one call ended before it could be sent. */
export async function commitRound(agents: readonly AgentHandle[], backupId: string, deadlineMs: number, readyWaitMs = READY_WAIT_MS): Promise<CommitRound> {
  const calls = agents.map((a) => a.openCommit(backupId, deadlineMs));
  const ended: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(calls.map((c, i) => c.ready.then((ok) => void (ok || ended.push(i))))),
    new Promise((r) => (timer = setTimeout(r, readyWaitMs))),
  ]);
  clearTimeout(timer);
  if (ended.length) {
    calls.forEach((c) => c.cancel());
    const why = await Promise.all(ended.sort((x, y) => x - y).map((i) => calls[i].response.then(() => `${agents[i].node}: answered before its request`, (err) => errorMessage(err))));
    // The cancelled calls' rejections are expected: nothing waits on them.
    calls.forEach((c) => c.response.catch(() => undefined));
    return { sent: false, unopened: why };
  }
  for (const c of calls) c.send();
  return { sent: true, results: await Promise.allSettled(calls.map((c) => c.response)) };
}
