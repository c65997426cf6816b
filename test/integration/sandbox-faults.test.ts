/**
 * The fault suite's real-store cases that prove crash recovery and the lock, one per destination
 * kind, in `npm test` (the rest run in `npm run faults`): the coordinator killed while the agents
 * ship to a local folder, a second coordinator refused by the lock, and MinIO and sshd killed
 * mid-upload, their partial uploads gone once the server is back. Each case checks its exit code,
 * its reason, the journal step it hit, the leftovers everywhere and, where a set completes, the
 * records its restore lost.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sandboxFaultCases } from '../faults/sandbox-faults';
import { closeFaultFleet } from '../faults/sandbox-fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';
import { startWriter, stopWriter } from '../sandbox';

const env = sandboxEnvOrNull();
const CI_CASES: [name: string, phase: string][] = [
  ['kill -9 of the coordinator', 'shipping'],
  ['two coordinators at once', 'shipping'],
  ['MinIO killed mid-upload (S3 destination)', 'shipping'],
  ['sshd killed mid-rsync (rsync destination)', 'shipping'],
];

test.before(async () => {
  if (env) await startWriter();
});
test.after(async () => {
  if (!env) return;
  await stopWriter();
  await closeFaultFleet();
});

for (const [name, phase] of CI_CASES) {
  test(`${name} (${phase})`, async () => {
    needSandbox(env);
    const c = sandboxFaultCases.find((x) => x.name === name && x.phase === phase);
    assert.ok(c, `no such fault case: ${name} (${phase})`);
    const o = await c.run();
    assert.equal(o.problems, [], o.observed);
    assert.is(o.leftovers, 'none', o.observed);
  });
}

test.run();
