/**
 * A destination that fails to answer is not a damaged set: a read error is tried again before a
 * folder is called unreadable, and while one is, a prune removes nothing (it cannot know which
 * files that set needs, nor count it). Local destinations in temporary folders, the real prune.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scanSet, scanSets } from '../../coordinator/sets/catalog';
import { prune, type PruneOptions } from '../../coordinator/retention/prune';
import { openDestination, type Destination } from '../../shared/destination';
import { generateSigningKeyPair, parseSigningKey } from '../../shared/signing';
import { rejects } from '../helpers/assert';
import { writeRehearsalSet } from '../helpers/rehearsal-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { trustOf } from '../helpers/signing';

const root = scratchDirSync('transient-reads');
test.after(() => removeScratch(root));
const key = parseSigningKey(generateSigningKeyPair().privatePem, 'test');
const trust = trustOf(key);
const HOUR = 3_600_000;
const ago = (h: number) => new Date(Date.now() - h * HOUR).toISOString();

/** The destination, with every read under `failing/` timing out `failures` times (Infinity: always). */
function flaky(dir: string, failing: string, failures: number): Destination {
  const real = openDestination({ type: 'local', path: dir });
  let left = failures;
  const fail = (path: string) => {
    if (path.startsWith(`${failing}/`) && left > 0) {
      left--;
      throw Object.assign(new Error(`read ${path}: ETIMEDOUT`), { code: 'ETIMEDOUT' });
    }
  };
  return new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || !['stat', 'get', 'readSmall'].includes(String(prop))) return typeof v === 'function' ? v.bind(target) : v;
      return async (path: string, ...rest: unknown[]) => {
        fail(path);
        return (v as (...a: unknown[]) => unknown).call(target, path, ...rest);
      };
    },
  });
}

function threeSets(): string {
  const dir = join(root, `dest-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  ['set-aaa', 'set-bbb', 'set-ccc'].forEach((id, i) => writeRehearsalSet(dir, id, { key, completedAt: ago(3 - i) }));
  return dir;
}

const options = (o: Partial<PruneOptions> = {}): PruneOptions => ({
  target: { kind: 'prune', policy: { keep_last: 1 } }, dryRun: false, openRuns: new Set(), incompleteGraceMs: HOUR, agents: [], say: () => undefined, trust, signingKey: key, ...o,
});

test('a read that fails twice and then answers is tried again: the set is complete', async () => {
  const dir = threeSets();
  const s = await scanSet(flaky(dir, 'set-bbb', 2), 'set-bbb', trust, 1);
  assert.is(s.status, 'complete', s.problem);
});

test('a read that keeps failing makes the set unreadable, and a prune then removes nothing, naming it', async () => {
  const dir = threeSets();
  const dest = flaky(dir, 'set-bbb', Infinity);
  const scanned = await scanSets(dest, trust);
  assert.equal(scanned.map((s) => `${s.id}:${s.status}`), ['set-aaa:complete', 'set-bbb:unreadable', 'set-ccc:complete']);
  await rejects(() => prune(dest, options()), /nothing was removed: backup set set-bbb cannot be read \(reading it failed: .*ETIMEDOUT/);
  for (const id of ['set-aaa', 'set-bbb', 'set-ccc']) assert.ok(existsSync(join(dir, id, 'manifest.json')), `${id} is still there`);
});

test.run();
