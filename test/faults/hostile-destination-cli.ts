/**
 * Hostile destinations through the real CLI: someone who can write the destination
 * plants, modifies, truncates or inflates a manifest, a pruned marker, a part.json, a files
 * listing or a stored attachment, dates a set in the future or the past, empties its node list or
 * offers a planted parent. Each case then runs what an operator would (list, verify, restore,
 * prune, the next backup) and must be refused or harmless: 0 sets lost, 0 changes outside the
 * destination and the restore targets, 0 planted bytes restored, and under 300 MB of coordinator
 * memory where a file was inflated. A real agent (files role on a folder store), no sandbox.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateSigningKeyPair, parseSigningKey } from '../../shared/signing';
import { writeRehearsalSet } from '../helpers/rehearsal-set';
import { signingKeyAt } from '../helpers/signing';
import type { FaultCase } from './case';
import { cliCase, lastLine, okProblem, parentOf, refusedProblem, said, type CaseBed } from './destination-cli-case';
import { hostileLinkCases } from './hostile-destination-links';

const GIB = 2 ** 30;
const attacker = parseSigningKey(generateSigningKeyPair().privatePem, 'attacker key');

/** Where the bed's files live in a set. */
const manifestOf = (b: CaseBed, id: string) => b.at(id, 'manifest.json');
const partOf = (b: CaseBed, id: string) => b.at(id, 'f1', 'part.json');
const listingOf = (b: CaseBed, id: string) => b.at(id, 'f1', 'files', 'listing.ndjson');
/** An attachment stored by the first (full) set; every later set references it. */
const attachmentOf = (b: CaseBed) => b.at(b.sets[0], 'f1', 'files', 'data', 'd0', 'e0', 'att-0');

/** Replaces a file's bytes for the length of `fn`, then puts the original back (so a set listed after was not lost to tandem). */
async function tampered<T>(file: string, change: (original: Buffer) => Buffer | 'sparse-GiB', fn: () => Promise<T>): Promise<T> {
  const original = readFileSync(file);
  const next = change(original);
  if (next === 'sparse-GiB') truncateSync(file, GIB);
  else writeFileSync(file, next);
  try {
    return await fn();
  } finally {
    writeFileSync(file, original);
  }
}

/** The planted bytes, padded or cut to `size`. */
const plantedOfSize = (b: CaseBed, size: number) => Buffer.concat([b.planted, Buffer.alloc(Math.max(0, size - b.planted.length), 0x2e)]).subarray(0, size);


/** A changed file of the newest set (its manifest records the file's sha256): restore and verify refuse it before the load. */
const changedSetFile = (name: string, file: (b: CaseBed) => string, change: (b: CaseBed, original: Buffer) => Buffer | 'sparse-GiB', why: RegExp, oversized = false): FaultCase =>
  cliCase(name, 'restore and verify refuse it, naming the file; nothing restored', { oversized, phase: 'restore:fetch' }, async (b) => {
    const newest = b.sets[b.sets.length - 1];
    return tampered(file(b), (o) => change(b, o), async () => {
      const r = await b.restore(newest, 'target');
      const v = await b.cli('verify', newest);
      return { observed: said(['restore', r], ['verify', v]), problems: [refusedProblem('restore', r, why), refusedProblem('verify', v, why)] };
    });
  });

/** A set planted at the destination: `tandem list`, restore of it, prune and the next backup. */
const plantedSetCase = (name: string, expected: string, plant: (b: CaseBed, id: string) => void, listed: RegExp, restoreWhy: RegExp): FaultCase =>
  cliCase(name, expected, {}, async (b) => {
    const id = 'set-9-planted';
    plant(b, id);
    const list = await b.cli('list', '--json');
    const entry = (JSON.parse(list.stdout || '{"backupSets":[]}').backupSets as { id: string; status: string; reason?: string }[]).find((s) => s.id === id);
    const shown = entry ? `${entry.status}${entry.reason ? ` (${entry.reason})` : ''}` : 'not listed';
    const r = await b.restore(id, 'target');
    const p = await b.cli('prune', '--keep-last', '1');
    const next = await b.cli('backup', '--id', 'set-10-next');
    const parent = next.code === 0 ? parentOf(b, 'set-10-next') : null;
    const again = await b.restore('set-10-next', 'target-next');
    return {
      observed: `listed ${shown}; ${said(['restore', r], ['prune', p])}; next backup's parent ${parent}`,
      problems: [
        listed.test(shown) ? '' : `listed ${shown}, expected ${listed.source}`,
        refusedProblem('restore of the planted set', r, restoreWhy),
        okProblem('prune', p),
        okProblem('the next backup', next),
        parent === b.sets[b.sets.length - 1] ? '' : `the next backup built on ${parent}, not on ${b.sets[b.sets.length - 1]}`,
        okProblem('restore of the next set', again),
      ],
      // keep-last 1 then the new backup: every real set but the newest is the policy's to remove.
      removed: b.sets.slice(0, -1),
    };
  });

/** A set signed by the fleet's own key (a coordinator whose clock or code went wrong) dated or shaped by `o`. */
const fleetSigned = (b: CaseBed, id: string, o: { completedAt?: string; tamper?: (m: Record<string, any>) => void }) =>
  writeRehearsalSet(b.fleet.destDir, id, { key: signingKeyAt(b.fleet.signing.key), nodes: ['f1'], ...o });

/**
 * A bed of three sets pruned to the newest by the real CLI (the first set's folder stays, marked,
 * holding the attachments the newest references); then `plant`, prune --keep-last 1 again, list
 * and a restore of the newest: the plant must change nothing.
 */
const markerCase = (name: string, expected: string, plant: (b: CaseBed) => void, oversized = false): FaultCase =>
  cliCase(name, expected, { sets: 3, oversized, phase: 'retention' }, async (b) => {
    const first = await b.cli('prune', '--keep-last', '1');
    const marked = existsSync(b.at(b.sets[0], 'pruned.json'));
    plant(b);
    const again = await b.cli('prune', '--keep-last', '1');
    const list = await b.cli('list', '--all');
    const r = await b.restore(b.sets[2], 'target');
    return {
      observed: `${marked ? 'the first set marked pruned' : 'no set kept a marker'}; ${said(['prune again', again], ['restore of the newest', r])}`,
      problems: [okProblem('the first prune', first), okProblem('list', list), okProblem('restore of the newest set', r), again.code === 0 || /cannot be read|unreadable/.test(again.stderr) ? '' : `the second prune failed otherwise: ${lastLine(again)}`],
      removed: b.sets.slice(0, 2),
    };
  });

export const hostileDestinationCliCases: FaultCase[] = [
  // Manifest.
  plantedSetCase('planted unsigned manifest (newest date) with a planted attachment', 'listed untrusted (unsigned); its restore refused; prune and the next backup ignore it', (b, id) => {
    writeRehearsalSet(b.fleet.destDir, id, { key: null, nodes: ['f1'] });
    mkdirSync(dirname(b.at(id, 'f1', 'files', 'data', 'd0', 'e0', 'att-0')), { recursive: true });
    writeFileSync(b.at(id, 'f1', 'files', 'data', 'd0', 'e0', 'att-0'), b.planted);
  }, /^untrusted \(unsigned\)$/, /unsigned|not signed/),
  plantedSetCase('planted parent: a newer set signed by another key, copying the newest', 'untrusted (unknown-key); the next backup builds on the real newest set', (b, id) => {
    writeRehearsalSet(b.fleet.destDir, id, { key: attacker, nodes: ['f1'], completedAt: new Date(Date.now() + 1000).toISOString() });
    cpSync(b.at(b.sets[b.sets.length - 1], 'f1', 'files'), b.at(id, 'f1', 'files'), { recursive: true });
  }, /^untrusted \(unknown-key\)$/, /unknown-key|not trusted|trusted key/),
  changedSetFile('manifest of the newest set modified after signing (one attachment sha256)', (b) => manifestOf(b, b.sets[b.sets.length - 1]), (_b, o) => Buffer.from(o.toString().replace(/"sha256": "([0-9a-f])/, (_m, c: string) => `"sha256": "${c === '0' ? '1' : '0'}`)), /bad-signature|changed after it was signed/),
  changedSetFile('manifest of the newest set truncated to half', (b) => manifestOf(b, b.sets[b.sets.length - 1]), (_b, o) => o.subarray(0, o.length >> 1), /bad-signature|changed after it was signed|untrusted/),
  changedSetFile('manifest of the newest set inflated to 1 GiB (sparse)', (b) => manifestOf(b, b.sets[b.sets.length - 1]), () => 'sparse-GiB', /oversized|larger than/, true),
  cliCase('every manifest inflated to 1 GiB, then list, prune --keep-last 1 and backup', 'untrusted (oversized), unread; prune removes nothing; the backup is full', { oversized: true }, async (b) => {
    const originals = b.sets.map((id) => readFileSync(manifestOf(b, id)));
    b.sets.forEach((id) => truncateSync(manifestOf(b, id), GIB));
    try {
      const list = await b.cli('list');
      const p = await b.cli('prune', '--keep-last', '1');
      const next = await b.cli('backup', '--id', 'set-10-next');
      return {
        observed: said(['list', list], ['prune', p], ['backup', next]),
        problems: [okProblem('list', list), /oversized/.test(list.stdout) ? '' : 'list does not say oversized', okProblem('prune', p), okProblem('backup', next), next.code === 0 && parentOf(b, 'set-10-next') !== null ? 'the backup built on an unread set' : ''],
      };
    } finally {
      b.sets.forEach((id, i) => writeFileSync(manifestOf(b, id), originals[i]));
    }
  }),

  // Pruned markers: a real one needs a real prune, so these beds prune first (three sets, keep the newest).
  markerCase('pruned.json planted unsigned in every set, then prune --keep-last 10', 'every planted marker ignored; 0 sets lost', (b) => {
    // The first prune removed the middle set's folder whole (it held nothing the newest needs).
    for (const id of b.sets.filter((x) => existsSync(b.at(x)))) writeFileSync(b.at(id, 'pruned.json'), JSON.stringify({ format: 'tandem.pruned/v1', id, prunedAt: new Date().toISOString(), esSnapshots: [] }));
  }),
  markerCase("a pruned set's signed marker copied into the newest set", 'ignored (it names another set); the newest set stays complete and restorable', (b) => {
    const pruned = b.sets[0];
    for (const f of ['pruned.json', 'pruned.sig']) if (existsSync(b.at(pruned, f))) cpSync(b.at(pruned, f), b.at(b.sets[2], f));
  }),
  markerCase("a pruned set's signed marker modified (it names the newest set)", 'its signature fails: ignored; what the newest set references stays', (b) => {
    const f = b.at(b.sets[0], 'pruned.json');
    writeFileSync(f, readFileSync(f, 'utf8').split(b.sets[0]).join(b.sets[2]));
  }),
  markerCase("a pruned set's signed marker truncated", 'ignored; what the newest set references stays', (b) => truncateSync(b.at(b.sets[0], 'pruned.json'), 7)),
  markerCase('pruned.json inflated to 1 GiB (sparse) in the newest set', 'refused from its size, unread; the newest set stays complete', (b) => {
    writeFileSync(b.at(b.sets[2], 'pruned.json'), '{}');
    truncateSync(b.at(b.sets[2], 'pruned.json'), GIB);
  }, true),

  // part.json.
  changedSetFile("part.json of the newest set modified (a planted file's record)", (b) => partOf(b, b.sets[b.sets.length - 1]), (b, o) => Buffer.from(o.toString().replace('"files":[', `"files":[{"path":"${b.sets[1]}/f1/files/data/x","size":1,"sha256":"${'0'.repeat(64)}","node":"f1","role":"files"},`)), /f1\/part\.json: (size|sha256)/),
  changedSetFile('part.json of the newest set truncated', (b) => partOf(b, b.sets[b.sets.length - 1]), (_b, o) => o.subarray(0, 10), /f1\/part\.json: (size|sha256)/),
  changedSetFile('part.json of the newest set inflated to 1 GiB (sparse)', (b) => partOf(b, b.sets[b.sets.length - 1]), () => 'sparse-GiB', /f1\/part\.json: (size|sha256)/, true),
  cliCase('part.json planted for a node the set does not have', 'ignored: the restore reads what the manifest names; nothing planted restored', {}, async (b) => {
    const newest = b.sets[b.sets.length - 1];
    mkdirSync(b.at(newest, 'n9', 'files', 'data'), { recursive: true });
    cpSync(partOf(b, newest), b.at(newest, 'n9', 'part.json'));
    writeFileSync(b.at(newest, 'n9', 'files', 'data', 'planted'), b.planted);
    const r = await b.restore(newest, 'target');
    return { observed: said(['restore', r]), problems: [okProblem('restore', r)] };
  }),

  // Files listing.
  changedSetFile("listing of the newest set modified (a line naming a planted file)", (b) => listingOf(b, b.sets[b.sets.length - 1]), (_b, o) => {
    const lines = o.toString().split('\n');
    const i = lines.findIndex((l) => l.includes('"att-0"') || l.includes('att-0'));
    lines.splice(i + 1, 0, lines[i].replace('att-0', 'att-planted'));
    return Buffer.from(lines.join('\n'));
  }, /listing\.ndjson does not match its record/),
  changedSetFile('listing of the newest set truncated', (b) => listingOf(b, b.sets[b.sets.length - 1]), (_b, o) => o.subarray(0, o.length >> 1), /listing\.ndjson (line \d+ is not valid JSON|does not match its record)/),
  changedSetFile('listing of the newest set inflated to 1 GiB (sparse)', (b) => listingOf(b, b.sets[b.sets.length - 1]), () => 'sparse-GiB', /a line of the files listing is longer than \d+ characters|listing\.ndjson does not match its record/, true),

  // Stored attachments (the files role's archive).
  changedSetFile('stored attachment replaced (same size, planted bytes)', attachmentOf, (b, o) => plantedOfSize(b, o.length), /att-0: sha256 [0-9a-f]{64}, manifest/),
  changedSetFile('stored attachment truncated', attachmentOf, (_b, o) => o.subarray(0, 3), /att-0: size 3, manifest says/),
  changedSetFile('stored attachment inflated to 1 GiB (sparse)', attachmentOf, () => 'sparse-GiB', /att-0: size 1073741824, manifest says/, true),
  cliCase('attachment planted beside the stored ones', 'not restored: the listing names what is restored', {}, async (b) => {
    writeFileSync(b.at(b.sets[0], 'f1', 'files', 'data', 'd0', 'e0', 'att-planted'), b.planted);
    const r = await b.restore(b.sets[b.sets.length - 1], 'target', '--files-clean');
    return { observed: said(['restore --files-clean', r]), problems: [okProblem('restore', r)] };
  }),

  // Dates and nodes, on sets the fleet's own key signed.
  cliCase('a set dated 2099 signed by the fleet key, then prune --keep-last 1 and backup', 'untrusted (invalid-field): not counted, not removed, not a parent', {}, async (b) => {
    fleetSigned(b, 'set-9-future', { completedAt: '2099-01-01T00:00:00.000Z' });
    const p = await b.cli('prune', '--keep-last', '1');
    const next = await b.cli('backup', '--id', 'set-10-next');
    const parent = next.code === 0 ? parentOf(b, 'set-10-next') : null;
    const list = await b.cli('list', '--json');
    const future = (JSON.parse(list.stdout).backupSets as { id: string; status: string; reason?: string }[]).find((s) => s.id === 'set-9-future');
    return {
      observed: `${said(['prune', p], ['backup', next])}; parent ${parent}; the 2099 set ${future ? `${future.status} (${future.reason})` : 'gone'}`,
      problems: [okProblem('prune', p), okProblem('backup', next), parent === b.sets[b.sets.length - 1] ? '' : `built on ${parent}`, future?.reason === 'invalid-field' ? '' : `the 2099 set is ${future?.status ?? 'gone'}`],
      removed: b.sets.slice(0, -1),
    };
  }),
  cliCase('a set dated 1970 signed by the fleet key, then prune --keep-last 2', 'the real sets kept (the policy counts the old one last); nothing outside touched', { sets: 2 }, async (b) => {
    fleetSigned(b, 'set-0-past', { completedAt: '1970-01-02T00:00:00.000Z' });
    const p = await b.cli('prune', '--keep-last', '2', '--json');
    const removed = p.code === 0 ? (JSON.parse(p.stdout) as { removed: (string | { id: string })[] }).removed.map((x) => (typeof x === 'string' ? x : x.id)) : [];
    return { observed: `${said(['prune', p])}; removed ${removed.join(', ') || 'nothing'}`, problems: [okProblem('prune', p), removed.some((id) => b.sets.includes(id)) ? `a real set was removed for the 1970 one: ${removed.join(', ')}` : ''] };
  }),
  cliCase('a set with an empty node list signed by the fleet key', 'untrusted (invalid-field); its restore refused; prune leaves it', {}, async (b) => {
    fleetSigned(b, 'set-9-empty', { tamper: (m) => Object.assign(m, { nodes: [], files: [] }) });
    const r = await b.restore('set-9-empty', 'target');
    const p = await b.cli('prune', '--keep-last', '5');
    return { observed: said(['restore', r], ['prune', p]), problems: [refusedProblem('restore', r, /invalid-field: .*nodes is empty/), okProblem('prune', p)] };
  }),

  ...hostileLinkCases,
];
