/**
 * The same coordinated Cassandra backup shipped to the two remote destinations, for real: rsync
 * over ssh to the sandbox's sshd, and S3 to its MinIO; then `tandem list`, `verify` and a
 * corrupted part found by `verify`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cassandraRoleSettings } from '../sandbox';
import { makeFleet, runCli, startFleet, stopFleet } from '../helpers/fleet';
import { needSandbox, sandboxEnvOrNull } from '../helpers/sandbox';

const env = sandboxEnvOrNull();

const roles = () =>
  env!.cassandra.nodes.map((n) => ({
    node: n.name,
    roles: { cassandra: cassandraRoleSettings(env!, n) },
  }));

async function backupTo(destination: Record<string, unknown>, id: string) {
  const fleet = await makeFleet(roles(), { prepareTimeoutMs: 120_000, destination });
  await startFleet(fleet);
  try {
    // --full: a destination kept from an earlier run holds sets (one with an archive this test
    // corrupts on purpose) that an incremental set would build on.
    const b = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--id', id, '--full']);
    assert.is(b.code, 0, b.stderr);
    assert.is(JSON.parse(b.stdout).status, 'complete');
    const list = JSON.parse((await runCli(['list', '--config', fleet.fleetFile, '--json'])).stdout);
    assert.ok(list.backupSets.some((s: { id: string; status: string }) => s.id === id && s.status === 'complete'));
    const v = await runCli(['verify', id, '--config', fleet.fleetFile, '--json']);
    assert.is(v.code, 0, v.stderr);
    const report = JSON.parse(v.stdout);
    assert.ok(report.ok);
    assert.is(report.files, 39, 'per node: 9 archives, a schema, the ring, the SSTable contents and the node record');
    return fleet;
  } finally {
    await stopFleet(fleet);
  }
}

test('rsync over ssh to the backup host, and a corrupted archive found by verify', async () => {
  needSandbox(env);
  const id = `rsync-${Date.now().toString(36)}`;
  const dest = { type: 'rsync', host: env.sshd.host, port: env.sshd.port, user: env.sshd.user, path: env.sshd.backupHostDir, identityFile: env.sshd.keyPath, knownHostsFile: env.sshd.knownHosts };
  const fleet = await backupTo(dest, id);
  const archive = join(env.sshd.backupHostDir, id, 'node3', 'cassandra', 'thehive', 'txlog.tbz');
  const bytes = readFileSync(archive);
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(archive, bytes);
  const v = await runCli(['verify', id, '--config', fleet.fleetFile, '--json']);
  assert.is(v.code, 1);
  const report = JSON.parse(v.stdout);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0], /node3\/cassandra\/thehive\/txlog\.tbz: sha256 .* \(corrupt\)/);
});

test('S3 (MinIO), and one changed byte of an archive found by verify', async () => {
  needSandbox(env);
  const id = `s3-${Date.now().toString(36)}`;
  const fleet = await backupTo(
    { type: 's3', endpoint: env.minio.endpoint, bucket: env.minio.backupBucket, prefix: 'tests', accessKeyId: env.minio.accessKey, secretAccessKey: env.minio.secretKey },
    id,
  );
  // The fleet file's keys stayed with the coordinator: the agents used their own credentials file.
  for (const a of fleet.agents) {
    const state = readFileSync(join(a.stateDir, 'state.json'), 'utf8');
    // The access key of the sandbox ("tandem") is a word of every backup id: the secret, and any key field, are what must be absent.
    assert.not.ok(state.includes(env.minio.secretKey) || /"(accessKeyId|secretAccessKey|accessKeyIdEnv|secretAccessKeyEnv)"/.test(state), `${a.node}'s state.json holds the S3 keys`);
    assert.ok(state.includes(env.minio.backupBucket));
  }
  // Changed in place at the same size, as a bit flip of the storage or a hand with write access would.
  const s3 = new S3Client({ endpoint: env.minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: env.minio.accessKey, secretAccessKey: env.minio.secretKey } });
  try {
    const Key = `tests/${id}/node2/cassandra/thehive/edgestore.tbz`;
    const got = await s3.send(new GetObjectCommand({ Bucket: env.minio.backupBucket, Key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    bytes[bytes.length >> 1] ^= 0x01;
    await s3.send(new PutObjectCommand({ Bucket: env.minio.backupBucket, Key, Body: bytes }));
  } finally {
    s3.destroy();
  }
  const v = await runCli(['verify', id, '--config', fleet.fleetFile, '--json']);
  assert.is(v.code, 1, v.stdout + v.stderr);
  const report = JSON.parse(v.stdout);
  assert.equal(report.problems.length, 1, report.problems.join('\n'));
  assert.match(report.problems[0], /node2\/cassandra\/thehive\/edgestore\.tbz: sha256 .* \(corrupt\)/);
});

test.run();
