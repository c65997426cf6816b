/**
 * The Elasticsearch index of an encrypted set, on the sandbox's Elasticsearch, through the real
 * CLI and agent: the snapshot is taken into a staging repository whose files are stored in the
 * set as age files (every stored byte of the role begins with the age header), nothing stays in
 * Elasticsearch's repositories or in the staging folder, verify needs no identity, a restore
 * with the identity stages the files back and restores the index beside the live one with its
 * document count, and a staged file changed at the destination is refused before any index is
 * restored. A throwaway index, repository and staging folder.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodesWith, parseManifest } from '../../shared/manifest';
import { filesUnder } from '../helpers/files-under';
import { encryptFleet, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';

const env = sandboxEnvOrNull();
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const REPO = `tandem-it-sealed-${run}`;
const INDEX = `thehive_global_s${run}`;
const DRILL = `drill-${INDEX}`;
const ID = `tandem-es-sealed-${run}`;
const DOCS = 25;
const es = env ? new Client({ node: env.elasticsearch.url }) : (null as unknown as Client);
const staging = () => `${env!.elasticsearch.pathRepo}/${REPO}-staging`;
let fleet: TestFleet | undefined;
let ops: { file: string; recipient: string };

const repositories = async () => Object.keys(await es.snapshot.getRepository({ name: '_all' }));
const indexExists = (index: string) => es.indices.exists({ index });

test.before(async () => {
  if (!env) return;
  await es.indices.create({ index: INDEX, settings: { number_of_shards: 1, number_of_replicas: 0 } });
  await es.bulk({ refresh: true, operations: Array.from({ length: DOCS }, (_, i) => [{ index: { _index: INDEX, _id: `d${i}` } }, { n: i, text: `case note ${i} of ${run}` }]).flat() });
  fleet = await makeFleet([{
    node: 'es1',
    roles: { elasticsearch: { url: env.elasticsearch.url, repository: REPO, repositoryLocation: `${env.elasticsearch.pathRepo}/${REPO}`, stagingLocation: staging(), indexPatterns: [INDEX], pollIntervalMs: 200 } },
  }], { prepareTimeoutMs: 60_000 });
  ops = await encryptFleet(fleet);
  await startFleet(fleet);
});

test.after(async () => {
  if (fleet) await removeFleet(fleet);
  if (env) {
    await es.indices.delete({ index: [INDEX, DRILL], ignore_unavailable: true }).catch(() => undefined);
    for (const name of [REPO, `${REPO}-staging`, `${REPO}-staged`]) await es.snapshot.deleteRepository({ name }).catch(() => undefined);
    await es.close();
    rmSync(`${env.elasticsearch.pathRepo}/${REPO}`, { recursive: true, force: true });
    rmSync(staging(), { recursive: true, force: true });
  }
});

test('the index of an encrypted set is stored in the set as age files; nothing of it stays outside', async () => {
  needSandbox(env);
  const b = await runCli(['backup', '--config', fleet!.fleetFile, '--id', ID, '--full']);
  assert.is(b.code, 0, b.stderr);
  const m = parseManifest(await readFile(join(fleet!.destDir, ID, 'manifest.json')), ID);
  const part = nodesWith(m, 'elasticsearch')[0].parts.elasticsearch;
  assert.ok(!('skipped' in part) && part.staged, 'the part records the staged repository files');
  const own = m.files.filter((f) => f.role === 'elasticsearch');
  assert.ok(own.some((f) => /\/repository\/index-\d+\.age$/.test(f.path)), own.map((f) => f.path).join(' '));
  assert.ok(own.some((f) => /\/repository\/indices\/.+\.age$/.test(f.path)), 'the shards\' files are in the set');
  // Every stored byte of the role is an age file: none of the index's data is at the destination in clear.
  const stored = await filesUnder(join(fleet!.destDir, ID, 'es1', 'elasticsearch'));
  assert.ok(stored.length === own.length && stored.length > 3, `${stored.length} files stored, ${own.length} in the manifest`);
  for (const file of stored) {
    const head = Buffer.alloc(22);
    const h = await open(file);
    await h.read(head, 0, 22, 0).finally(() => h.close());
    assert.is(head.toString(), 'age-encryption.org/v1\n', `${file} is not an age file`);
  }
  // Neither repository keeps the snapshot, and the staging folder is empty again.
  const snaps = await es.snapshot.get({ repository: REPO, snapshot: '*' }).then((r) => r.snapshots?.length ?? 0, () => 0);
  assert.is(snaps, 0, 'the main repository holds no snapshot of the encrypted set');
  assert.not.ok((await repositories()).includes(`${REPO}-staging`), 'the staging repository is unregistered');
  assert.equal(existsSync(staging()) ? readdirSync(staging()) : [], []);
});

test('verify needs no identity; a restore with it brings the index back beside the live one, and leaves no plaintext', async () => {
  needSandbox(env);
  const config = JSON.parse(await readFile(fleet!.fleetFile, 'utf8')) as Record<string, unknown>;
  const noIdentity = join(fleet!.dir, 'no-identity.yaml');
  await writeFile(noIdentity, JSON.stringify({ ...config, encryption: { mode: 'age', recipients: [ops.recipient] } }));
  const v = await runCli(['verify', ID, '--config', noIdentity]);
  assert.is(v.code, 0, v.stderr + v.stdout);
  const r = await runCli(['restore', ID, '--config', fleet!.fleetFile, '--yes', '--index-prefix', 'drill-']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.is((await es.count({ index: DRILL })).count, DOCS);
  assert.is((await es.count({ index: INDEX })).count, DOCS, 'the live index is untouched');
  assert.not.ok((await repositories()).includes(`${REPO}-staged`), 'the read-only staged repository is unregistered');
  assert.equal(existsSync(staging()) ? readdirSync(staging()) : [], []);
  await es.indices.delete({ index: DRILL });
});

test('a staged file changed at the destination is refused before any index is restored', async () => {
  needSandbox(env);
  const m = parseManifest(await readFile(join(fleet!.destDir, ID, 'manifest.json')), ID);
  const shardFile = m.files.filter((f) => f.role === 'elasticsearch' && f.path.includes('/repository/indices/')).sort((a, b) => b.size - a.size)[0];
  const file = join(fleet!.destDir, shardFile.path);
  const body = await readFile(file);
  body[body.length - 20] ^= 1;
  await writeFile(file, body);
  try {
    const r = await runCli(['restore', ID, '--config', fleet!.fleetFile, '--yes', '--index-prefix', 'drill-']);
    assert.is(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stderr + r.stdout, shardFile.path);
    assert.not.ok(await indexExists(DRILL), 'no index restored from a changed set');
  } finally {
    body[body.length - 20] ^= 1;
    await writeFile(file, body);
  }
});

test.run();
