import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dropRestoreTargets, type RestoreTargets } from '../helpers/restore-targets';
import type { SandboxEnv } from '../sandbox';

// Refused before any connection: nothing listens at these addresses.
const env = { cassandra: { keyspace: 'thehive', nodes: [] }, elasticsearch: { url: 'http://127.0.0.1:1' } } as unknown as SandboxEnv;
const refusal = (t: RestoreTargets) => dropRestoreTargets(env, t).then(() => null, (e: Error) => e);

test('the live keyspace is never dropped as a scratch target', async () => {
  assert.match((await refusal({ keyspace: 'thehive', indexPrefix: 'bench-' }))?.message ?? '', /live keyspace/);
});

test('an empty or wildcard index prefix is refused: it would match every index', async () => {
  for (const indexPrefix of ['', '*', '-x']) assert.instance(await refusal({ keyspace: 'thehive_scratch', indexPrefix }), Error, indexPrefix);
});

test('a keyspace that is not a CQL name is refused', async () => {
  assert.instance(await refusal({ keyspace: 'a; DROP KEYSPACE thehive', indexPrefix: 'bench-' }), Error);
});

test.run();
