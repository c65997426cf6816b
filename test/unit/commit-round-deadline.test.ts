/**
 * The commit round's deadlines, through the AgentHandle seam: a Commit held while the other
 * agents are still announcing keeps its whole deadline after it is ended, however short the
 * fleet's commitTimeoutMs is.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commitRound } from '../../coordinator/backup/commit-round';
import type { AgentHandle } from '../../coordinator/fleet';
import type { CommitResponse } from '../../shared/generated/tandem/v2/agent';

/** An agent whose Commit call announces after `announceMs` and answers `answerMs` after its end, unless its deadline ran out first. */
function agent(node: string, announceMs: number, answerMs: number, seen: { node: string; deadlineMs: number; endedAfterMs?: number }[]): AgentHandle {
  return {
    node,
    openCommit(_id: string, deadlineMs: number) {
      const opened = Date.now();
      const rec: { node: string; deadlineMs: number; endedAfterMs?: number } = { node, deadlineMs };
      seen.push(rec);
      let end!: () => void;
      const ended = new Promise<void>((r) => (end = r));
      const response = new Promise<CommitResponse>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`${node}: DEADLINE_EXCEEDED`)), deadlineMs);
        void ended.then(() => setTimeout(() => (clearTimeout(deadline), resolve({ state: 0, committedUnixMs: Date.now() } as unknown as CommitResponse)), answerMs));
      });
      return {
        ready: new Promise<boolean>((r) => setTimeout(() => r(true), announceMs)),
        halfClose: () => ((rec.endedAfterMs = Date.now() - opened), end()),
        response,
        cancel: () => undefined,
      };
    },
  } as unknown as AgentHandle;
}

test('with a 1 s commitTimeoutMs, a call held 1.5 s for a slow agent to announce still gets its answer', async () => {
  const seen: { node: string; deadlineMs: number; endedAfterMs?: number }[] = [];
  const round = await commitRound([agent('n1', 0, 300, seen), agent('n2', 1500, 300, seen)], 'set-x', 1000, 5000);
  assert.ok(round.sent);
  if (!round.sent) return;
  assert.equal(round.results.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(round.results));
  for (const s of seen) {
    assert.is(s.deadlineMs, 6000, 'the wait for the announcements plus the Commit\'s own deadline');
    assert.ok(s.endedAfterMs! >= 1400, `${s.node} was held until every agent announced`);
  }
});

test.run();
