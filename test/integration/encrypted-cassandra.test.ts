/**
 * Encrypted sets of the Cassandra role on the sandbox: a full then an incremental set with
 * `encryption: {mode: age}`. Every archive, schema.cql, ring.json and contents.json is stored as
 * NAME.age (no stored byte holds a CREATE statement or an SSTable name in clear); the incremental
 * set builds on the encrypted one (from the agents' own plaintext copy of its contents.json) and
 * references its `.age` archives; verify needs no identity; `show --archives` prints the
 * `age -d | tar` commands, which the reference age and tar run by hand; a drill with the identity
 * restores and verifies; a wrong identity is refused naming the set's recipients; and the full
 * set is restored by hand with only the reference age, tar, the CQL of the decrypted
 * schema and `nodetool import` on each node, to the row counts the manifest records.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNewIdentityFile } from '../../coordinator/keys';
import { runCommand } from '../../shared/exec';
import { nodesWith, parseManifest } from '../../shared/manifest';
import { Client, types } from 'cassandra-driver';
import { expectedRows } from '../../agent/roles/cassandra/expected-rows';
import { rewriteStatement, splitStatements } from '../../agent/roles/cassandra/schema';
import type { TableRowCount } from '../../shared/parts/cassandra';
import { cassandraRoleSettings } from '../sandbox';
import { filesUnder } from '../helpers/files-under';
import { encryptFleet, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';

const env = sandboxEnvOrNull();
const RUN = Date.now().toString(36);
const ids = { full: `enc-full-${RUN}`, second: `enc-second-${RUN}` };
const REPO = join(__dirname, '..', '..', '..');
let fleet: TestFleet;
let ops: { file: string; recipient: string };

test.before(async () => {
  if (!env) return;
  fleet = await makeFleet(env.cassandra.nodes.map((n) => ({ node: n.name, roles: { cassandra: cassandraRoleSettings(env, n) } })), { prepareTimeoutMs: 120_000 });
  ops = await encryptFleet(fleet);
  await startFleet(fleet);
});
test.after(async () => {
  if (env) await removeFleet(fleet);
});

const manifestOf = async (id: string) => parseManifest(await readFile(join(fleet.destDir, id, 'manifest.json')), id);

test('a full encrypted set: every stored file of the role is NAME.age, nothing of it in clear', async () => {
  needSandbox(env);
  const b = await runCli(['backup', '--config', fleet.fleetFile, '--id', ids.full, '--full']);
  assert.is(b.code, 0, b.stderr);
  const m = await manifestOf(ids.full);
  assert.match(m.options.setRecipient ?? '', /^age1/);
  const own = m.files.filter((f) => f.role === 'cassandra');
  assert.ok(own.length > 0 && own.every((f) => f.path.endsWith('.age')), own.map((f) => f.path).join(' '));
  for (const kind of ['.tbz.age', 'schema.cql.age', 'ring.json.age', 'contents.json.age']) assert.ok(own.some((f) => f.path.endsWith(kind)), `a ${kind} file`);
  for (const file of await filesUnder(join(fleet.destDir, ids.full))) {
    const body = await readFile(file);
    assert.not.ok(body.includes('CREATE TABLE'), `${file} holds the schema in clear`);
    if (!/(manifest|part)\.json$/.test(file)) assert.not.ok(body.includes('-Data.db'), `${file} holds SSTable names in clear`);
  }
});

test('the next set builds on the encrypted one and references its .age archives; verify needs no identity', async () => {
  needSandbox(env);
  const b = await runCli(['backup', '--config', fleet.fleetFile, '--id', ids.second, '--json']);
  assert.is(b.code, 0, b.stderr);
  assert.is(JSON.parse(b.stdout).parent, ids.full);
  const m = await manifestOf(ids.second);
  assert.ok(m.references.length > 0, 'the second set references archives of the first (from the agents\' plaintext copy of its contents.json)');
  assert.ok(m.references.every((r) => r.set === ids.full && r.path.endsWith('.tbz.age')));
  const config = JSON.parse(await readFile(fleet.fleetFile, 'utf8')) as Record<string, unknown>;
  const noIdentity = join(fleet.dir, 'no-identity.yaml');
  await writeFile(noIdentity, JSON.stringify({ ...config, encryption: { mode: 'age', recipients: [ops.recipient] } }));
  const v = await runCli(['verify', ids.second, '--config', noIdentity]);
  assert.is(v.code, 0, v.stderr + v.stdout);
});

test('show --archives prints the age -d | tar commands, and they rebuild a table by hand with the reference age', async () => {
  needSandbox(env);
  const r = await runCli(['show', ids.second, '--archives', '--config', fleet.fleetFile]);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.some((l) => l === `age -d -i ${ops.file} -o set-key-${ids.second}.txt ${join(fleet.destDir, ids.second, 'set-key.age')}`), r.stdout);
  assert.ok(lines.some((l) => l === `age -d -i ${ops.file} -o set-key-${ids.full}.txt ${join(fleet.destDir, ids.full, 'set-key.age')}`), 'the earlier set\'s key too');
  const piped = lines.filter((l) => l.startsWith('age -d -i set-key-'));
  assert.ok(piped.length > 0 && piped.every((l) => / \| tar xjf - -C restore\//.test(l)), r.stdout);
  // By hand, without tandem: unseal the set key, then one table's archives through age into tar.
  const bin = (await runCommand(['bash', join(REPO, 'test', 'tools', 'age.sh')], { cwd: REPO, timeoutMs: 600_000 })).stdout.trim();
  const work = join(fleet.dir, 'by-hand');
  await mkdir(work, { recursive: true });
  const first = piped[0].match(/^age -d -i set-key-(\S+)\.txt (\S+) \| tar xjf - -C (\S+)(.*)$/)!;
  assert.ok(first, piped[0]);
  const key = join(work, `set-key-${first[1]}.txt`);
  await runCommand([join(bin, 'age'), '-d', '-i', ops.file, '-o', key, join(fleet.destDir, first[1], 'set-key.age')]);
  const plain = join(work, 'table.tbz');
  await runCommand([join(bin, 'age'), '-d', '-i', key, '-o', plain, first[2]]);
  const listed = await runCommand(['tar', 'tjf', plain]);
  assert.ok(listed.stdout.includes('Data.db'), listed.stdout.slice(0, 400));
});

test('a drill with the identity restores and verifies; a wrong identity is refused naming the recipients', async () => {
  needSandbox(env);
  const other = await writeNewIdentityFile(join(fleet.dir, 'other-keys'));
  const wrong = await runCli(['drill', ids.second, '--config', fleet.fleetFile, '--identity', other.file]);
  assert.is(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, `it is sealed to ${ops.recipient}`);
  const d = await runCli(['drill', ids.second, '--config', fleet.fleetFile, '--json']);
  assert.is(d.code, 0, d.stderr + d.stdout);
  assert.ok(JSON.parse(d.stdout).ok);
});

test('the full set restored by hand: age -d of the set key, schema and archives, tar xjf, nodetool import on each node; rows as the manifest records', async () => {
  needSandbox(env);
  const bin = (await runCommand(['bash', join(REPO, 'test', 'tools', 'age.sh')], { cwd: REPO, timeoutMs: 600_000 })).stdout.trim();
  const age = join(bin, 'age');
  const m = await manifestOf(ids.full);
  const work = join(fleet.dir, 'by-hand-full');
  await mkdir(work, { recursive: true });
  const setKey = join(work, 'set-key.txt');
  await runCommand([age, '-d', '-i', ops.file, '-o', setKey, join(fleet.destDir, ids.full, 'set-key.age')]);
  const nodes = nodesWith(m, 'cassandra');
  const source = env!.cassandra.keyspace;
  const target = `enc_hand_${RUN}`;
  const cql = new Client({ contactPoints: env!.cassandra.contactPoints, localDataCenter: env!.cassandra.datacenter });
  await cql.connect();
  try {
    // The schema, decrypted from the first node's copy, made under a scratch keyspace name.
    const schemaFile = m.files.find((f) => f.node === nodes[0].node && f.path.endsWith('/schema.cql.age'));
    assert.ok(schemaFile, 'the set holds an encrypted schema.cql');
    const schema = (await runCommand([age, '-d', '-i', setKey, join(fleet.destDir, schemaFile!.path)])).stdout;
    assert.match(schema, /CREATE TABLE/);
    for (const s of splitStatements(schema)) await cql.execute(rewriteStatement(s, source, target));
    // Each node's archives onto that node, as the vendor's procedure does.
    for (const n of nodes) {
      const nodetool = env!.cassandra.nodes.find((x) => x.name === n.node)!.nodetool;
      for (const t of n.parts.cassandra.tables.filter((x) => x.keyspace === source)) {
        const into = join(work, n.node, target, t.table);
        await mkdir(into, { recursive: true });
        const plain = join(work, n.node, `${t.table}.tbz`);
        // The part names the plaintext archive; what is stored is NAME.age (as the manifest records).
        await runCommand([age, '-d', '-i', setKey, '-o', plain, join(fleet.destDir, `${t.path}.age`)]);
        await runCommand(['tar', 'xjf', plain, '-C', into]);
        await runCommand([nodetool, 'import', target, t.table, into]);
      }
    }
    // Every table against what the nodes counted at the cut (exact where the replicas agreed).
    const counted = new Map<string, TableRowCount[]>();
    for (const n of nodes) for (const t of n.parts.cassandra.tables) if (t.keyspace === source && t.count) counted.set(t.table, [...(counted.get(t.table) ?? []), t.count]);
    let exact = 0;
    for (const [table, counts] of counted) {
      const e = expectedRows(counts);
      if (!e) continue;
      let rows = 0;
      let pageState: string | undefined;
      do {
        const r = await cql.execute(`SELECT * FROM ${target}.${table}`, [], { fetchSize: 2000, pageState, consistency: types.consistencies.all });
        rows += r.rows.length;
        pageState = r.pageState ?? undefined;
      } while (pageState);
      assert.ok(rows >= e.rows && rows <= e.upTo, `${table}: ${rows} rows by hand, the cut recorded ${e.rows}..${e.upTo}`);
      if (e.exact) {
        assert.is(rows, e.rows, `${table}: rows by hand against the cut`);
        exact++;
      }
    }
    assert.ok(exact > 0, 'at least one table had an exact count to compare');
  } finally {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${target}`).catch(() => undefined);
    await cql.shutdown();
  }
});

test.run();
