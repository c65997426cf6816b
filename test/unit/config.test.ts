/** Configuration validation: errors name the file, the key and the problem. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadAgentConfig } from '../../agent/config';
import { loadFleetConfig } from '../../coordinator/config';
import { parsePlan } from '../../agent/backup/plan';
import { rolePlugin } from '../../agent/roles/plugin';
import { PRODUCTION_ROLES } from '../../agent/roles/registry';
import { Compression, type BackupPlan } from '../../shared/generated/tandem/v2/agent';
import { backupOptionsSchema, parseOptionFlags, toWireBackupOptions } from '../../shared/wire/backup-options';
import { toWireDestination } from '../../shared/wire/destination';
import { rehearsalRole, rehearsalSettings } from '../helpers/rehearsal-role';
import { scratchDirSync } from '../helpers/scratch';

/** The plug-ins the protocol's tests run agents with. */
const withRehearsal = [...PRODUCTION_ROLES, rolePlugin({ name: 'rehearsal', settings: rehearsalSettings, create: rehearsalRole })];

const dir = scratchDirSync('config');
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('a valid agent file is compiled with defaults and frozen', () => {
  const text = 'node: cass1\nlisten: 0.0.0.0:7400\ntls: {ca: /etc/t/ca.crt, cert: /etc/t/a.crt, key: /etc/t/a.key}\nroles:\n  rehearsal: {markerDir: /tmp/m}\n';
  const c = loadAgentConfig(file('a.yaml', text), withRehearsal);
  assert.is(c.stateDir, '/var/lib/tandem-agent');
  assert.is(c.tls?.coordinatorName, 'coordinator');
  assert.ok(Object.isFrozen(c));
  // A production agent does not know the tests' role.
  assert.throws(() => loadAgentConfig(file('a2.yaml', text)), /rehearsal/);
});

test('agent errors name the file and the key', () => {
  const p = file('bad.yaml', 'node: "bad name!"\nlisten: nowhere\nroles: {}\nextra: 1\n');
  assert.throws(() => loadAgentConfig(p), (e: Error) =>
    e.message.includes(`${p}: node:`) && e.message.includes(`${p}: listen: must be host:port`) &&
    e.message.includes('at least one role') && /extra/.test(e.message));
});

test('relative paths and YAML syntax errors are refused', () => {
  assert.throws(() => loadAgentConfig(file('rel.yaml', 'node: a\nlisten: 127.0.0.1:1\nstateDir: var/lib\nroles: {rehearsal: {markerDir: /m}}\n'), withRehearsal), /stateDir: must be an absolute/);
  assert.throws(() => loadAgentConfig(file('syn.yaml', 'node: [a\n')), /YAML syntax error/);
  assert.throws(() => loadAgentConfig(join(dir, 'missing.yaml')), /cannot read configuration/);
});

test('fleet file: duplicate nodes, unknown roles and a bad destination are refused', () => {
  const p = file('f.yaml', 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\n  - {node: a, address: "127.0.0.1:2", roles: [teapot]}\ndestination: {type: ftp}\n');
  assert.throws(() => loadFleetConfig(p), (e: Error) => /agents.1.roles.0/.test(e.message) && /destination.type/.test(e.message));
  const dup = file('d.yaml', 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\n  - {node: a, address: "127.0.0.1:2", roles: [files]}\ndestination: {type: local, path: /b}\n');
  assert.throws(() => loadFleetConfig(dup), /agents: node names must be unique/);
});

test('fleet defaults', () => {
  const f = loadFleetConfig(file('g.yaml', 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\ndestination: {type: local, path: /backups}\nsigning: {key: /etc/tandem/signing.key}\n'));
  assert.is(f.backup.compression, 'bzip2');
  assert.equal(f.signing, { key: '/etc/tandem/signing.key', trusted: [] });
  assert.is(f.backup.leaseMs, 120_000);
});

test('fleet file: the signing block is required, its paths absolute', () => {
  const agents = 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\ndestination: {type: local, path: /b}\n';
  assert.throws(() => loadFleetConfig(file('s1.yaml', agents)), /signing: required since sets are signed: make the key with 'tandem certs signing --dir/);
  assert.throws(() => loadFleetConfig(file('s2.yaml', `${agents}signing: {key: keys/signing.key}\n`)), /signing\.key: must be an absolute/);
  assert.throws(() => loadFleetConfig(file('s3.yaml', `${agents}signing: {key: /k, trusted: [old.pub]}\n`)), /signing\.trusted\.0: must be an absolute/);
});

test('tls.coordinatorName must be a strict name', () => {
  const text = (name: string) => `node: cass1\nlisten: 0.0.0.0:7400\ntls: {ca: /etc/t/ca.crt, cert: /etc/t/a.crt, key: /etc/t/a.key, coordinatorName: ${JSON.stringify(name)}}\nroles:\n  rehearsal: {markerDir: /tmp/m}\n`;
  assert.is(loadAgentConfig(file('cn1.yaml', text('backup-host.example.org')), withRehearsal).tls?.coordinatorName, 'backup-host.example.org');
  for (const bad of ['', 'a b', '*', '-x', 'a;b', 'x'.repeat(64)]) {
    assert.throws(() => loadAgentConfig(file('cn2.yaml', text(bad)), withRehearsal), /tls\.coordinatorName/, bad);
  }
});

test('fleet file: a lease shorter than the wait for votes is refused', () => {
  const agents = 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\ndestination: {type: local, path: /b}\nsigning: {key: /etc/tandem/signing.key}\n';
  assert.throws(() => loadFleetConfig(file('l1.yaml', `${agents}backup: {leaseMs: 60000, prepareTimeoutMs: 90000}\n`)), /backup\.leaseMs: leaseMs must be at least prepareTimeoutMs/);
  assert.throws(() => loadFleetConfig(file('l2.yaml', `${agents}backup: {leaseMs: 5000}\n`)), /leaseMs must be at least prepareTimeoutMs/);
  assert.is(loadFleetConfig(file('l3.yaml', `${agents}backup: {leaseMs: 90000, prepareTimeoutMs: 90000}\n`)).backup.leaseMs, 90_000);
});

test('a plan from the network is validated before use', () => {
  const options = toWireBackupOptions(backupOptionsSchema.parse({ compression: 'xz' }));
  const ok: BackupPlan = { backupId: 'tandem-1', tag: 'tandem-1', leaseMs: 5000, destination: toWireDestination({ type: 'local', path: '/b' }), options, parent: undefined };
  assert.is(parsePlan(ok).backupId, 'tandem-1');
  assert.is(parsePlan(ok).options.compression, 'xz');
  assert.throws(() => parsePlan({ ...ok, backupId: '../etc' }), /plan\.backupId/);
  assert.throws(() => parsePlan({ ...ok, tag: 'a;rm -rf /' }), /plan\.tag/);
  assert.throws(() => parsePlan({ ...ok, leaseMs: 10 }), /plan\.leaseMs/);
  assert.throws(() => parsePlan({ ...ok, destination: { kind: { $case: 'local', value: { path: 'rel' } } } }), /plan\.destination\.path/);
  assert.throws(() => parsePlan({ ...ok, destination: undefined }), /plan\.destination: missing/);
  assert.throws(() => parsePlan({ ...ok, options: { ...options, compression: 7 as Compression } }), /plan\.options\.compression: unknown value 7/);
  assert.throws(() => parsePlan({ ...ok, options: { ...options, compression: Compression.UNSPECIFIED } }), /plan\.options\.compression/);
  assert.throws(() => parsePlan({ ...ok, options: undefined }), /plan\.options: missing/);
  assert.throws(() => parsePlan(undefined), /no backup plan/);
});

test('--option flags: known keys with typed values only', () => {
  assert.equal(parseOptionFlags(['compression=xz', 'allow_low_rf=true', 'repair=false']), { compression: 'xz', allowLowRf: true, repair: false });
  assert.throws(() => parseOptionFlags(['compression=zstd']), /--option compression=zstd: must be one of bzip2, xz, none/);
  assert.throws(() => parseOptionFlags(['parallelism=4']), /--option parallelism: unknown option/);
  assert.throws(() => parseOptionFlags(['allow_low_rf=yes']), /--option allow_low_rf=yes: must be true or false/);
  assert.throws(() => parseOptionFlags(['keep_snapshot']), /must be true or false/);
});

test.run();
