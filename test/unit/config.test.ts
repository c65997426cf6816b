/** Configuration validation: errors name the file, the key and the problem. */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadAgentConfig } from '../../agent/config';
import { loadFleetConfig } from '../../coordinator/config';
import { parsePlan } from '../../agent/backup/plan';

const dir = mkdtempSync(join(tmpdir(), 'tandem-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('a valid agent file is compiled with defaults and frozen', () => {
  const c = loadAgentConfig(file('a.yaml', 'node: cass1\nlisten: 0.0.0.0:7400\ntls: {ca: /etc/t/ca.crt, cert: /etc/t/a.crt, key: /etc/t/a.key}\nroles:\n  rehearsal: {markerDir: /tmp/m}\n'));
  assert.is(c.stateDir, '/var/lib/tandem-agent');
  assert.ok(Object.isFrozen(c));
});

test('agent errors name the file and the key', () => {
  const p = file('bad.yaml', 'node: "bad name!"\nlisten: nowhere\nroles: {}\nextra: 1\n');
  assert.throws(() => loadAgentConfig(p), (e: Error) =>
    e.message.includes(`${p}: node:`) && e.message.includes(`${p}: listen: must be host:port`) &&
    e.message.includes('at least one role') && /extra/.test(e.message));
});

test('relative paths and YAML syntax errors are refused', () => {
  assert.throws(() => loadAgentConfig(file('rel.yaml', 'node: a\nlisten: 127.0.0.1:1\nstateDir: var/lib\nroles: {rehearsal: {markerDir: /m}}\n')), /stateDir: must be an absolute/);
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
  const f = loadFleetConfig(file('g.yaml', 'agents:\n  - {node: a, address: "127.0.0.1:1", roles: [cassandra]}\ndestination: {type: local, path: /backups}\n'));
  assert.is(f.backup.compression, 'bzip2');
  assert.is(f.backup.leaseMs, 120_000);
});

test('a plan from the network is validated before use', () => {
  const ok = { backupId: 'tandem-1', tag: 'tandem-1', leaseMs: 5000, destinationJson: '{"type":"local","path":"/b"}', options: { compression: 'xz' } };
  assert.is(parsePlan(ok).backupId, 'tandem-1');
  assert.throws(() => parsePlan({ ...ok, backupId: '../etc' }), /backupId/);
  assert.throws(() => parsePlan({ ...ok, tag: 'a;rm -rf /' }), /tag/);
  assert.throws(() => parsePlan({ ...ok, leaseMs: 10 }), /leaseMs/);
  assert.throws(() => parsePlan({ ...ok, destinationJson: '{"type":"local","path":"rel"}' }), /destination/);
  assert.throws(() => parsePlan({ ...ok, options: { 'Bad Key': 'x' } }), /options/);
  assert.throws(() => parsePlan(undefined), /no backup plan/);
});

test.run();
