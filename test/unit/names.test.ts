/** Strict name patterns and what the manifest derives from agents' reports. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBackupId, checkCqlName, checkNodeName, checkTag, newBackupId } from '../../shared/names';
import { filesOfParts, snapshotSpread } from '../../shared/manifest';
import { isLoopback } from '../../shared/rpc/tls';

test('names that could reach a shell, a path or CQL are refused', () => {
  for (const bad of ['', '..', 'a/b', 'a b', 'x;rm', '$(id)', '-rf', 'A'.repeat(70)]) {
    assert.throws(() => checkBackupId(bad), /invalid backup id/);
    assert.throws(() => checkTag(bad), /invalid snapshot tag/);
  }
  assert.throws(() => checkCqlName('thehive"; DROP'), /invalid CQL name/);
  assert.throws(() => checkNodeName('-node'), /invalid node name/);
  assert.is(checkCqlName('thehive'), 'thehive');
  assert.is(checkNodeName('cass1.example.org'), 'cass1.example.org');
});

test('generated backup ids are valid ids and tags', () => {
  const id = newBackupId(new Date('2026-11-21T23:34:00.123Z'), () => 0.5);
  assert.is(id, 'tandem-20261121t233400z-7fffff');
  assert.is(checkBackupId(id), id);
  assert.is(checkTag(id), id);
});

test('snapshot spread prefers Cassandra cut instants', () => {
  const nodes = [
    { commits: { cassandra: { cutAt: 1000 }, files: { cutAt: 900 } } },
    { commits: { cassandra: { cutAt: 1012 } } },
    { commits: { cassandra: { cutAt: 1005 } } },
  ];
  assert.is(snapshotSpread(nodes), 12);
  assert.is(snapshotSpread([{ commits: { rehearsal: { cutAt: 5 } } }, { commits: { rehearsal: { cutAt: 8 } } }]), 3);
  assert.is(snapshotSpread([{ commits: {} }]), null);
});

test('parts files are collected with node and role', () => {
  const files = filesOfParts('n1', { cassandra: { files: [{ path: 'b/n1/t.tbz', size: 3, sha256: 'a'.repeat(64) }] }, x: { other: 1 } });
  assert.equal(files, [{ path: 'b/n1/t.tbz', size: 3, sha256: 'a'.repeat(64), node: 'n1', role: 'cassandra' }]);
});

test('loopback detection for --insecure', () => {
  for (const a of ['127.0.0.1:1', '127.0.0.3:9', 'localhost:5', '[::1]:4']) assert.ok(isLoopback(a), a);
  for (const a of ['0.0.0.0:1', '10.0.0.1:1', 'db1:7400', '[::]:1']) assert.not.ok(isLoopback(a), a);
});

test.run();
