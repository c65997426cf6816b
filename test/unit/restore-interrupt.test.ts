/** An interrupted restore or drill: the first signal aborts the calls, a second exits; the run settles and names what it left. */
import { EventEmitter } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FleetConfig } from '../../coordinator/config';
import type { AgentHandle } from '../../coordinator/fleet';
import type { RestorePlan } from '../../coordinator/restore/plan';
import { runRestore, type CheckedManifest } from '../../coordinator/restore/run';
import { watchInterrupt } from '../../coordinator/cli/interrupt';
import { interruptedLines } from '../../coordinator/cli/restore-run';

test('the first SIGINT or SIGTERM aborts, a second exits 130, dispose stops listening', () => {
  const proc = new EventEmitter();
  const heard: string[] = [];
  const exits: number[] = [];
  const i = watchInterrupt((n) => heard.push(n), proc, (c) => exits.push(c));
  assert.is(i.signal.aborted, false);
  proc.emit('SIGTERM');
  assert.is(i.signal.aborted, true);
  assert.equal(heard, ['SIGTERM']);
  assert.equal(exits, []);
  proc.emit('SIGINT');
  assert.equal(exits, [130]);
  i.dispose();
  assert.is(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM'), 0);
});

const fleet = { backup: { shipTimeoutMs: 60_000 }, destination: { type: 'local', path: '/nonexistent' } } as unknown as FleetConfig;
const checked = { manifest: { id: 'tandem-20260101T000000Z' }, sha256: 'x' } as unknown as CheckedManifest;
const plan = { steps: [{ node: 'n1', options: { createSchema: true } }], lines: [], sameTopology: true } as unknown as RestorePlan;

test('an abort settles the phase in flight and starts no other', async () => {
  const controller = new AbortController();
  const phases: number[] = [];
  const ended: string[] = [];
  const agent = {
    node: 'n1',
    restore(req: { phase: number }, _deadline: number, signal?: AbortSignal) {
      phases.push(req.phase);
      // The agent's call ends only when it is aborted, as a long fetch does.
      return new Promise((_, reject) => signal!.addEventListener('abort', () => reject(new Error('cancelled')), { once: true }));
    },
    async endRestore(restoreId: string) {
      ended.push(restoreId);
      return { ended: true };
    },
  } as unknown as AgentHandle;
  const running = runRestore(fleet, [agent], checked, plan, 'restore-20260101T000000Z', { say() {} }, controller.signal);
  setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 10);
  const outcome = await running;
  assert.is(outcome.ok, false);
  assert.is(outcome.failedPhase, 'fetch');
  assert.is(phases.length, 1);
  assert.match(outcome.problems[0], /cancelled/);
  // The run ended, interrupted: the agent is told, so that a backup need not wait out its hold.
  assert.equal(ended, ['restore-20260101T000000Z']);
});

test('an abort between phases starts no further phase', async () => {
  const controller = new AbortController();
  const phases: number[] = [];
  const agent = {
    node: 'n1',
    async restore(req: { phase: number }) {
      phases.push(req.phase);
      controller.abort(new Error('interrupted by SIGTERM'));
      return { reports: [] };
    },
  } as unknown as AgentHandle;
  const outcome = await runRestore(fleet, [agent], checked, plan, 'restore-20260101T000000Z', { say() {} }, controller.signal);
  assert.is(phases.length, 1);
  assert.is(outcome.failedPhase, 'schema');
  assert.match(outcome.problems[0], /schema not started: interrupted by SIGTERM/);
});

test('every run ends with EndRestore on each agent of the plan, and one that does not answer is only a warning', async () => {
  const said: string[] = [];
  const ended: string[] = [];
  const twoNodes = { ...plan, steps: [{ node: 'n1', options: { createSchema: true } }, { node: 'n2', options: {} }] } as unknown as RestorePlan;
  const agent = (node: string, answers: boolean) => ({
    node,
    async restore() {
      throw new Error(`${node}: fetch failed: UNAVAILABLE`);
    },
    async endRestore(restoreId: string) {
      if (!answers) throw new Error(`${node}: endRestore failed: UNAVAILABLE: No connection established`);
      ended.push(`${node} ${restoreId}`);
      return { ended: true };
    },
  }) as unknown as AgentHandle;
  const outcome = await runRestore(fleet, [agent('n1', true), agent('n2', false)], checked, twoNodes, 'restore-20260101T000000Z', { say: (l) => said.push(l) });
  assert.is(outcome.failedPhase, 'fetch');
  assert.equal(ended, ['n1 restore-20260101T000000Z']);
  assert.ok(said.some((l) => /warning: n2 was not told that restore restore-20260101T000000Z ended \(.*UNAVAILABLE.*\): a backup on it waits up to 60 s/.test(l)), said.join('\n'));
});

test('the interrupted lines name the restore id, its phase and how to resume it', () => {
  const lines = interruptedLines({ restoreId: 'restore-20260101T000000Z', kind: 'restore', backupId: 'tandem-20260101T000000Z', phase: 'load', resume: ['restore', 'tandem-20260101T000000Z', '--yes', '--restore-id', 'restore-20260101T000000Z'] });
  assert.match(lines[0], /restore restore-20260101T000000Z of backup tandem-20260101T000000Z stopped in phase load/);
  assert.match(lines[1], /tandem restore tandem-20260101T000000Z --yes --restore-id restore-20260101T000000Z/);
});

test.run();
