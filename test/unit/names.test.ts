/** Strict name patterns and what the manifest derives from agents' reports. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBackupId, checkCqlName, checkNodeName, checkTag, newBackupId } from '../../shared/names';
import { snapshotSpread } from '../../shared/manifest';
import type { Commits } from '../../shared/parts';
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

test('snapshot spread prefers Cassandra cut instants; across stores, every role counts', () => {
  const cass = (cutAt: number) => ({ tag: 't', keyspaces: ['thehive'], cutAt, requestedAt: cutAt, returnedAt: cutAt, tables: 1 });
  const nodes: { commits: Commits }[] = [
    { commits: { cassandra: cass(1000), files: { cutAt: 900, store: 'localfs', location: '/f', fileCount: 0, bytes: 0 } } },
    { commits: { cassandra: cass(1012) } },
    { commits: { cassandra: cass(1005) } },
  ];
  assert.is(snapshotSpread(nodes), 12);
  assert.is(snapshotSpread(nodes, true), 112, 'across stores: the files cut at 900 counts too');
  assert.is(snapshotSpread([{ commits: { rehearsal: { cutAt: 5 } } }, { commits: { rehearsal: { cutAt: 8 } } }]), 3);
  assert.is(snapshotSpread([{ commits: {} }]), null);
});

test('loopback detection for --insecure', () => {
  for (const a of ['127.0.0.1:1', '127.0.0.3:9', 'localhost:5', '[::1]:4']) assert.ok(isLoopback(a), a);
  for (const a of ['0.0.0.0:1', '10.0.0.1:1', 'db1:7400', '[::]:1']) assert.not.ok(isLoopback(a), a);
});

test.run();
