/**
 * A backup of 100 agents through the real `tandem` CLI: rehearsal agents in 2 processes
 * (test/helpers/many-agents.ts), each with its own certificate, state folder and port, real
 * gRPC and mutual TLS. The set must be complete with every node, and `tandem verify` must
 * accept it. Nothing here is timed: `npm run bench -- scale` measures.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseManifest } from '../../shared/manifest';
import { runCli } from '../helpers/fleet';
import { startManyAgents, type ManyAgents } from '../helpers/many-agents';

const AGENTS = 100;
let fleet: ManyAgents | undefined;

test.before(async () => {
  fleet = await startManyAgents(AGENTS, { perHost: 50, shipMs: 50 });
});
test.after(async () => {
  await fleet?.stop();
});

test('a backup of 100 agents is complete with every node and verifies', async () => {
  const f = fleet!;
  const run = await runCli(['backup', '--config', f.fleetFile, '--json'], { NO_COLOR: '1' });
  assert.is(run.code, 0, run.stderr.slice(-2000));
  const out = JSON.parse(run.stdout) as { id: string; status: string; nodes: { node: string; state: string }[]; unreachable: string[] };
  assert.is(out.status, 'complete');
  assert.equal(out.unreachable, []);
  assert.equal(out.nodes.map((n) => n.node).sort(), [...f.nodes].sort());
  assert.ok(out.nodes.every((n) => n.state === 'done'), JSON.stringify(out.nodes.filter((n) => n.state !== 'done')));
  // A fleet of more than ten agents once printed Node's MaxListenersExceededWarning on every run.
  assert.not.match(run.stderr, /MaxListenersExceededWarning/);

  const manifest = parseManifest(readFileSync(join(f.destDir, out.id, 'manifest.json')), out.id);
  assert.is(manifest.nodes.length, AGENTS);
  assert.equal(manifest.nodes.map((n) => n.node).sort(), [...f.nodes].sort());
  // Every node's Commit reached it: each has its own cut and its part.
  assert.ok(manifest.nodes.every((n) => n.commits.rehearsal && n.parts.rehearsal));

  // Every agent answered exactly one Prepare and one Commit for this backup.
  const arrivals = (await f.arrivals()).filter((a) => a.backupId === out.id);
  for (const method of ['prepare', 'commit'] as const) {
    assert.equal(arrivals.filter((a) => a.method === method).map((a) => a.node).sort(), [...f.nodes].sort(), method);
  }

  const verify = await runCli(['verify', out.id, '--config', f.fleetFile, '--json']);
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
  const v = JSON.parse(verify.stdout) as { ok: boolean; problems: string[]; files: number };
  assert.ok(v.ok, v.problems.join('; '));
  // A part file and a part.json per node.
  assert.is(v.files, 2 * AGENTS);
});

test.run();
