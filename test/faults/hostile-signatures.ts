/**
 * Hostile files planted at a destination against signed sets (issue 27, item 1): someone who can
 * write the destination plants or alters a manifest or a marker. Each case runs the coordinator's
 * own readers (catalog, prune, parent choice) on a local destination in a temporary folder and
 * checks that nothing planted is used and no real set is lost. Pure code: quick enough for `npm test`.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listBackupSets } from '../../coordinator/sets/catalog';
import { chooseParent } from '../../coordinator/backup/parent';
import { prune } from '../../coordinator/retention/prune';
import { openDestination, type DestinationConfig } from '../../shared/destination';
import { generateSigningKeyPair, parseSigningKey } from '../../shared/signing';
import { writeRehearsalSet } from '../helpers/rehearsal-set';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { trustOf } from '../helpers/signing';
import { observe, type FaultCase, type Observation } from './case';

const key = parseSigningKey(generateSigningKeyPair().privatePem, 'fleet key');
const attacker = parseSigningKey(generateSigningKeyPair().privatePem, 'attacker key');
const trust = trustOf(key);
const REAL = ['set-real-1', 'set-real-2', 'set-real-3'];

/** A destination with three real signed sets an hour apart; `plant` adds the hostile files; `check` looks. */
function signedCase(name: string, expected: string, plant: (dir: string) => void, check: (dir: string, config: DestinationConfig) => Promise<Observation>): FaultCase {
  return {
    kind: 'hostile',
    name,
    phase: 'destination',
    expected,
    needs: 'none',
    quick: true,
    run: async () => {
      const dir = await scratchDir('hostile-sig');
      try {
        REAL.forEach((id, i) => writeRehearsalSet(dir, id, { key, completedAt: new Date(Date.now() - (3 - i) * 3_600_000).toISOString() }));
        plant(dir);
        return await check(dir, { type: 'local', path: dir });
      } finally {
        removeScratch(dir);
      }
    },
  };
}

/** `id` is listed as untrusted for `reason`. */
const listedUntrusted = (id: string, reason: string) => async (_dir: string, config: DestinationConfig) => {
  const e = (await listBackupSets(openDestination(config), trust)).find((x) => x.id === id);
  const got = e ? `${e.status}${e.reason ? ` (${e.reason})` : ''}` : 'not listed';
  return observe(`listed ${got}`, got === `untrusted (${reason})` ? [] : [`expected untrusted (${reason}), got ${got}`]);
};

/** Every real set's manifest is still there. */
const realLost = (dir: string) => REAL.filter((id) => !existsSync(join(dir, id, 'manifest.json'))).map((id) => `${id} was removed`);

export const signedSetCases: FaultCase[] = [
  signedCase('planted unsigned manifest', 'listed untrusted (unsigned), never used', (d) => writeRehearsalSet(d, 'set-planted', { key: null }), listedUntrusted('set-planted', 'unsigned')),
  signedCase('manifest signed by a key the fleet does not trust', 'untrusted (unknown-key)', (d) => writeRehearsalSet(d, 'set-planted', { key: attacker }), listedUntrusted('set-planted', 'unknown-key')),
  signedCase('real manifest altered after it was signed', 'untrusted (bad-signature)', (d) => {
    const f = join(d, REAL[2], 'manifest.json');
    writeFileSync(f, readFileSync(f, 'utf8').replace('"tandemVersion": "test"', '"tandemVersion": "evil"'));
  }, listedUntrusted(REAL[2], 'bad-signature')),
  signedCase('garbage manifest.sig', 'untrusted (invalid-signature-file)', (d) => writeFileSync(join(d, REAL[2], 'manifest.sig'), '\u001b[2J not a signature'), listedUntrusted(REAL[2], 'invalid-signature-file')),
  signedCase("a real set's signed manifest copied into another folder", 'untrusted (folder-mismatch)', (d) => {
    mkdirSync(join(d, 'set-copy'));
    for (const f of ['manifest.json', 'manifest.sig']) cpSync(join(d, REAL[0], f), join(d, 'set-copy', f));
  }, listedUntrusted('set-copy', 'folder-mismatch')),
  signedCase('manifest dated 2099, signed by the fleet key', 'untrusted (invalid-field)', (d) => writeRehearsalSet(d, 'set-future', { key, completedAt: '2099-01-01T00:00:00.000Z' }), listedUntrusted('set-future', 'invalid-field')),
  signedCase('manifest with no nodes, signed by the fleet key', 'untrusted (invalid-field)', (d) => writeRehearsalSet(d, 'set-empty', { key, tamper: (m) => Object.assign(m, { nodes: [], files: [] }) }), listedUntrusted('set-empty', 'invalid-field')),
  signedCase('manifest of 1 GiB', 'untrusted (oversized), refused from its size, unread', (d) => {
    writeRehearsalSet(d, 'set-huge', { key: null });
    truncateSync(join(d, 'set-huge', 'manifest.json'), 1 << 30);
  }, async (dir, config) => {
    const t0 = Date.now();
    const o = await listedUntrusted('set-huge', 'oversized')(dir, config);
    if (Date.now() - t0 > 2000) o.problems.push(`took ${Date.now() - t0} ms: was it read?`);
    return o;
  }),
  signedCase('pruned.json planted in the newest set, then prune --keep-last 10', 'the marker ignored and reported, 0 sets lost', (d) => {
    writeFileSync(join(d, REAL[2], 'pruned.json'), JSON.stringify({ format: 'tandem.pruned/v1', id: 'x', prunedAt: '', esSnapshots: [] }));
  }, async (dir, config) => {
    const r = await prune(openDestination(config), { target: { kind: 'prune', policy: { keep_last: 10 } }, dryRun: false, openRuns: new Set(), incompleteGraceMs: 0, agents: [], say: () => undefined, trust, signingKey: key });
    const problems = [...realLost(dir), ...(r.ignoredMarkers.some((m) => m.id === REAL[2]) ? [] : ['the planted marker was not reported'])];
    return observe(`kept ${r.kept.length}, removed ${r.removed.length}, ignored markers ${r.ignoredMarkers.length}`, problems);
  }),
  signedCase('three manifests dated 2099 planted, then prune --keep-last 3', '0 sets lost, the planted ones reported and left', (d) => {
    for (const [i, k] of [null, attacker, key].entries()) writeRehearsalSet(d, `set-x${i}`, { key: k, completedAt: `2099-01-0${i + 1}T00:00:00.000Z` });
  }, async (dir, config) => {
    const r = await prune(openDestination(config), { target: { kind: 'prune', policy: { keep_last: 3 } }, dryRun: false, openRuns: new Set(), incompleteGraceMs: 0, agents: [], say: () => undefined, trust, signingKey: key });
    const problems = [...realLost(dir), ...(r.untrusted.length === 3 ? [] : [`${r.untrusted.length} untrusted reported, not 3`]), ...['set-x0', 'set-x1', 'set-x2'].filter((id) => !existsSync(join(dir, id))).map((id) => `${id} was removed by the policy`)];
    return observe(`kept ${r.kept.map((k) => k.id).join(', ')}; untrusted ${r.untrusted.length}`, problems);
  }),
  signedCase('a newer planted set (a copy of a real one, other archives) offered as parent', 'the newest real set is the parent', (d) => {
    writeRehearsalSet(d, 'set-zz-planted', { key: attacker, completedAt: new Date(Date.now() - 60_000).toISOString() });
  }, async (_dir, config) => {
    const p = await chooseParent(openDestination(config), ['n1'], trust);
    return observe(`parent ${p?.backupId ?? 'none'}`, p?.backupId === REAL[2] ? [] : [`expected ${REAL[2]}`]);
  }),
];
