/** The typed contract: messages to validated types and back, and what is refused, by field name. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { parseDestinationConfig } from '../../shared/destination';
import { statusOf } from '../../shared/rpc/status';
import { backupOptionsSchema, fromWireBackupOptions, toWireBackupOptions } from '../../shared/wire/backup-options';
import { CassandraLoad, RestorePhase } from '../../shared/generated/tandem/v2/agent';
import { MANIFEST_FORMAT, parseManifest } from '../../shared/manifest';
import { fromWireDestination, toWireDestination } from '../../shared/wire/destination';
import { fromWirePhase, fromWireRestoreOptions, parseRestoreOptions, parseReplicationFlag, toWirePhase, toWireRestoreOptions } from '../../shared/wire/restore';

const destinations = [
  { type: 'local', path: '/mnt/backups' },
  { type: 'rsync', host: 'backup.example.org', user: 'tandem', port: 2222, path: '/srv/b', identityFile: '/etc/tandem/id', knownHostsFile: '/etc/tandem/kh', bwlimitKBps: 1000, ioTimeoutSeconds: 60 },
  { type: 'rsync', host: '10.0.0.9', user: 'tandem', path: '/srv/b' },
  { type: 's3', endpoint: 'http://minio:9000', bucket: 'backups', prefix: 'prod/thehive', partSizeMiB: 64 },
];
for (const d of destinations) {
  test(`destination ${d.type} survives the wire unchanged`, () => {
    const config = parseDestinationConfig(d);
    assert.equal(fromWireDestination(toWireDestination(config)), config);
  });
}

test('a destination message is checked by the fleet file\'s schema, naming the field', () => {
  assert.throws(() => fromWireDestination(undefined, 'plan.destination'), /plan\.destination: missing/);
  assert.throws(() => fromWireDestination({ kind: { $case: 'local', value: { path: '../etc' } } }), /destination\.path/);
  const kind = toWireDestination(parseDestinationConfig(destinations[2])).kind;
  if (kind?.$case !== 'rsync') throw new Error('rsync');
  const rsync = kind.value;
  assert.throws(() => fromWireDestination({ kind: { $case: 'rsync', value: { ...rsync, user: '-oProxyCommand=x' } } }), /destination\.user/);
  assert.throws(() => fromWireDestination({ kind: { $case: 'rsync', value: { ...rsync, port: 0 } } }), /destination\.port/);
});

test('restore options: round trip, and refusals that name the field', () => {
  const o = parseRestoreOptions({ targetKeyspace: 'thehive_drill', cassandraLoad: 'sstableloader', cassandraSources: ['n1', 'n2'], replication: parseReplicationFlag('dc1:1,dc2:2'), skipRoles: ['files'] });
  assert.equal(fromWireRestoreOptions(toWireRestoreOptions(o)), o);
  const wire = toWireRestoreOptions(parseRestoreOptions({}));
  assert.is(fromWireRestoreOptions({ ...wire, cassandraLoad: CassandraLoad.UNSPECIFIED }).cassandraLoad, 'import');
  assert.throws(() => fromWireRestoreOptions({ ...wire, cassandraLoad: 9 as CassandraLoad }), /options\.cassandraLoad: unknown value 9/);
  assert.throws(() => fromWireRestoreOptions({ ...wire, targetKeyspace: 'x"; DROP' }), /options\.targetKeyspace/);
  assert.throws(() => fromWireRestoreOptions({ ...wire, indexPrefix: '.hidden' }), /options\.indexPrefix/);
  assert.throws(() => fromWireRestoreOptions({ ...wire, filesTarget: '/' }), /options\.filesTarget/);
  assert.throws(() => fromWireRestoreOptions({ ...wire, filesBucket: 'Bad_Bucket' }), /options\.filesBucket/);
  assert.throws(() => fromWireRestoreOptions({ ...wire, cassandraHosts: ['-oops'] }), /options\.cassandraHosts\.0/);
  assert.throws(() => fromWireRestoreOptions({ ...wire, skipRoles: ['postgres'] }), /options\.skipRoles\.0/);
  assert.throws(() => fromWireRestoreOptions(undefined), /options: missing/);
});

test('backup options: round trip, and a bad value is INVALID_ARGUMENT naming the field', () => {
  const o = backupOptionsSchema.parse({ compression: 'xz', maxChain: 3 });
  assert.equal(fromWireBackupOptions(toWireBackupOptions(o)), o);
  const wire = toWireBackupOptions(o);
  for (const [bad, field] of [[{ maxChain: 101 }, /plan\.options\.maxChain/], [{ maxRemovedPercent: -1 }, /plan\.options\.maxRemovedPercent/], [{ maxChain: 1.5 }, /plan\.options\.maxChain/]] as const) {
    let caught: unknown;
    try {
      fromWireBackupOptions({ ...wire, ...bad });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof Error, `${JSON.stringify(bad)} refused`);
    assert.match((caught as Error).message, field);
    assert.is(statusOf(caught), grpc.status.INVALID_ARGUMENT);
  }
  assert.throws(() => fromWireBackupOptions({ ...wire, compression: 9 as never }), /plan\.options\.compression: unknown value 9/);
});

test('restore phases: every phase round-trips; unknown values are refused', () => {
  for (const p of ['check', 'fetch', 'schema', 'load', 'verify', 'cleanup'] as const) assert.is(fromWirePhase(toWirePhase(p)), p);
  assert.throws(() => fromWirePhase(RestorePhase.UNSPECIFIED), /phase: unknown value 0/);
  assert.throws(() => fromWirePhase(42 as RestorePhase), /phase: unknown value 42/);
});

test('a manifest of another format is refused by name, before its fields are read', () => {
  assert.throws(() => parseManifest(JSON.stringify({ format: 'tandem.backup-set/v1', id: 'x' }), 'tandem-x'), /has format "tandem\.backup-set\/v1"; this tandem reads tandem\.backup-set\/v3 only/);
  assert.throws(() => parseManifest('{', 'tandem-x'), /not valid JSON/);
  assert.throws(() => parseManifest(JSON.stringify({ format: MANIFEST_FORMAT, id: 'tandem-x' }), 'tandem-x'), /not a valid manifest: tag/);
});

test.run();
