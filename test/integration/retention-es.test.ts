/**
 * A prune deletes the removed sets' Elasticsearch snapshots through the agent with the
 * elasticsearch role (DeleteSnapshot over mutual TLS), and keeps the kept set's, which still
 * verifies. Real agent, real CLI, the sandbox's Elasticsearch, a throwaway index and repository.
 * Needs the sandbox (`npm test` brings it up); fails without it.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { esSnapshotFor } from '../../shared/names';
import { handles, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';

const env = sandboxEnvOrNull();
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const REPO = `tandem-it-prune-${run}`;
const INDEX = `thehive_global_p${run}`;
const es = env ? new Client({ node: env.elasticsearch.url }) : (null as unknown as Client);
let fleet: TestFleet | undefined;

test.after(async () => {
  if (fleet) await removeFleet(fleet);
  if (env) {
    await es.indices.delete({ index: INDEX, ignore_unavailable: true }).catch(() => undefined);
    const snaps = await es.snapshot.get({ repository: REPO, snapshot: '*' }).catch(() => null);
    for (const s of snaps?.snapshots ?? []) await es.snapshot.delete({ repository: REPO, snapshot: s.snapshot }).catch(() => undefined);
    await es.snapshot.deleteRepository({ name: REPO }).catch(() => undefined);
    await es.close();
    rmSync(`${env.elasticsearch.pathRepo}/${REPO}`, { recursive: true, force: true });
  }
});

const snapshotExists = async (snapshot: string) => (await es.snapshot.get({ repository: REPO, snapshot }).then((r) => r.snapshots?.length ?? 0, () => 0)) > 0;

test('prune deletes the snapshots of the removed sets through the agent and keeps the kept set\'s, which verifies', async () => {
  needSandbox(env);
  await es.indices.create({ index: INDEX, settings: { number_of_shards: 1, number_of_replicas: 0 } });
  await es.index({ index: INDEX, id: 'd1', document: { n: 1 }, refresh: true });
  fleet = await makeFleet([{
    node: 'es1',
    roles: { elasticsearch: { url: env.elasticsearch.url, repository: REPO, repositoryLocation: `${env.elasticsearch.pathRepo}/${REPO}`, indexPatterns: [INDEX], pollIntervalMs: 200 } },
  }], { prepareTimeoutMs: 60_000 });
  await startFleet(fleet);
  const ids = [`tandem-es-prune-${run}-a`, `tandem-es-prune-${run}-b`, `tandem-es-prune-${run}-c`];
  for (const id of ids) {
    const b = await runCli(['backup', '--config', fleet.fleetFile, '--id', id]);
    assert.is(b.code, 0, b.stderr);
    assert.ok(await snapshotExists(esSnapshotFor(id)), `${id} has its snapshot`);
  }
  const p = await runCli(['prune', '--config', fleet.fleetFile, '--keep-last', '1', '--json']);
  assert.is(p.code, 0, p.stderr);
  const report = JSON.parse(p.stdout);
  assert.equal(report.removed.map((r: { id: string; result: string; esSnapshotsDeleted: number }) => [r.id, r.result, r.esSnapshotsDeleted]), [[ids[0], 'removed', 1], [ids[1], 'removed', 1]]);
  assert.not.ok(await snapshotExists(esSnapshotFor(ids[0])));
  assert.not.ok(await snapshotExists(esSnapshotFor(ids[1])));
  assert.ok(await snapshotExists(esSnapshotFor(ids[2])), 'the kept set keeps its snapshot');
  const v = await runCli(['verify', ids[2], '--config', fleet.fleetFile]);
  assert.is(v.code, 0, v.stderr);

  // Idempotent: an absent snapshot is success; names that are not tandem's, or another repository, are refused.
  const [h] = handles(fleet);
  try {
    assert.equal(await h.deleteSnapshot(REPO, esSnapshotFor(ids[0]), 30_000), { existed: false });
    await h.deleteSnapshot(REPO, 'nightly-2026', 30_000).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /INVALID_ARGUMENT.*not a tandem snapshot name/));
    await h.deleteSnapshot('other-repo', esSnapshotFor(ids[2]), 30_000).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /INVALID_ARGUMENT.*not this agent's snapshot repository/));
  } finally {
    h.close();
  }
  assert.ok(await snapshotExists(esSnapshotFor(ids[2])));
});

test.run();
