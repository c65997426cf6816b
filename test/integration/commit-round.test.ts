/**
 * The commit round against real agent processes (rehearsal role, mutual TLS on loopback): a
 * Commit opened with its request is announced by the agent and held until the call ends; a round
 * in which one call cannot be opened ends none, and the held Commits are refused once aborted;
 * a held call whose caller dies is not run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commitRound } from '../../coordinator/backup/commit-round';
import { AgentState } from '../../shared/generated/tandem/v2/agent';
import { localPlan } from '../helpers/plan';
import { handles, makeFleet, removeFleet, startFleet, stopAgent, type TestFleet } from '../helpers/fleet';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function twoAgents(): Promise<TestFleet> {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: {} } }, { node: 'n2', roles: { rehearsal: {} } }]);
  fleets.push(f);
  await startFleet(f);
  return f;
}

test('an agent announces an opened Commit once its request is in, and commits only when the call ends', async () => {
  const f = await twoAgents();
  const hs = handles(f);
  try {
    for (const h of hs) assert.ok((await h.prepare(localPlan('set-held', f.destDir, 60_000), 10_000)).voteYes);
    const calls = hs.map((h) => h.openCommit('set-held', 10_000));
    assert.equal(await Promise.all(calls.map((c) => c.ready)), [true, true], 'both agents announced the call');
    // Announced, with the request in: nothing is committed until the call's end arrives.
    for (const h of hs) assert.is(AgentState[(await h.status('set-held', 3000)).state], 'PREPARED');
    calls.forEach((c) => c.halfClose());
    const answers = await Promise.all(calls.map((c) => c.response));
    for (const a of answers) {
      assert.ok(a.committedUnixMs > 0, 'the cut has an instant');
      assert.not.equal(AgentState[a.state], 'PREPARED');
    }
  } finally {
    hs.forEach((h) => h.close());
  }
});

test('a commit round in which one call cannot be opened ends none, and takes no cut once aborted', async () => {
  const f = await twoAgents();
  const hs = handles(f);
  try {
    for (const h of hs) assert.ok((await h.prepare(localPlan('set-half', f.destDir, 60_000), 10_000)).voteYes);
    await stopAgent(f.agents[1]);
    const round = await commitRound(hs, 'set-half', 5000);
    assert.is(round.sent, false);
    if (round.sent) return;
    assert.is(round.unopened.length, 1);
    assert.match(round.unopened[0], /n2/);
    // Its call is held, not ended: the agent that was reached is still only prepared.
    assert.is(AgentState[(await hs[0].status('set-half', 3000)).state], 'PREPARED');
    // As the run does: Abort first, then release the held call, whose Commit is then refused.
    await hs[0].abort('set-half', 'one agent is down', 5000);
    round.release();
    assert.is(AgentState[(await hs[0].status('set-half', 3000)).state], 'ABORTED');
    assert.not.ok(existsSync(join(f.dir, 'markers', 'n1', 'set-half', 'committed')), 'no cut was taken');
  } finally {
    hs.forEach((h) => h.close());
  }
});

test('a coordinator killed while it holds Commit calls commits nothing: a lost connection is not an end', async () => {
  const f = await twoAgents();
  const hs = handles(f);
  let child: ChildProcess | undefined;
  try {
    for (const h of hs) assert.ok((await h.prepare(localPlan('set-killed', f.destDir, 60_000), 10_000)).voteYes);
    // Another process opens and holds both calls, says so, and is killed.
    const holder = spawn(process.execPath, [join(__dirname, '../helpers/hold-commits.js'), f.fleetFile, 'set-killed'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = holder;
    const said = await new Promise<string>((resolve) => {
      holder.stdout.once('data', (d: Buffer) => resolve(d.toString()));
      holder.once('exit', (code) => resolve(`exited with ${code}`));
    });
    assert.is(said.trim(), 'held');
    const exited = new Promise((r) => holder.once('exit', r));
    const from = f.agents.map((a) => a.log.length);
    holder.kill('SIGKILL');
    await exited;
    // Each agent says when it has seen its call end without a Commit: only then is "nothing was
    // committed" a fact rather than a guess about timing.
    const lost = (i: number) => f.agents[i].log.slice(from[i]).some((l) => l.includes('a Commit call ended before its request did'));
    for (const end = Date.now() + 15_000; !f.agents.every((_, i) => lost(i)); await sleep(50)) {
      if (Date.now() > end) assert.unreachable(`the agents did not see the held calls end: ${f.agents.map((a, i) => a.log.slice(from[i]).join('\n')).join('\n')}`);
    }
    for (const h of hs) assert.is(AgentState[(await h.status('set-killed', 3000)).state], 'PREPARED');
    for (const n of ['n1', 'n2']) assert.not.ok(existsSync(join(f.dir, 'markers', n, 'set-killed', 'committed')), `${n} took no cut`);
  } finally {
    // A failed assertion before the kill must not leave the holder running (and the test waiting).
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    hs.forEach((h) => h.close());
  }
});

test.run();
