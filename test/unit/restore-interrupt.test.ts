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
  const agent = {
    node: 'n1',
    restore(req: { phase: number }, _deadline: number, signal?: AbortSignal) {
      phases.push(req.phase);
      // The agent's call ends only when it is aborted, as a long fetch does.
      return new Promise((_, reject) => signal!.addEventListener('abort', () => reject(new Error('cancelled')), { once: true }));
    },
  } as unknown as AgentHandle;
  const running = runRestore(fleet, [agent], checked, plan, 'restore-20260101T000000Z', { say() {} }, controller.signal);
  setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 10);
  const outcome = await running;
  assert.is(outcome.ok, false);
  assert.is(outcome.failedPhase, 'fetch');
  assert.is(phases.length, 1);
  assert.match(outcome.problems[0], /cancelled/);
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

test('the interrupted lines name the restore id, its phase and how to resume it', () => {
  const lines = interruptedLines({ restoreId: 'restore-20260101T000000Z', kind: 'restore', backupId: 'tandem-20260101T000000Z', phase: 'load', resume: ['restore', 'tandem-20260101T000000Z', '--yes', '--restore-id', 'restore-20260101T000000Z'] });
  assert.match(lines[0], /restore restore-20260101T000000Z of backup tandem-20260101T000000Z stopped in phase load/);
  assert.match(lines[1], /tandem restore tandem-20260101T000000Z --yes --restore-id restore-20260101T000000Z/);
});

test.run();
