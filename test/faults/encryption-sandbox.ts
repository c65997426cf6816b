/**
 * Bad inputs to the restore of an encrypted set, through the real CLI on the sandbox (the fault
 * fleet writes encrypted sets unless TANDEM_FAULTS_ENCRYPTION=none): a wrong identity, an identity
 * file others can read, and a stored table archive truncated, altered, or replaced by a valid age
 * file to another recipient. Each `tandem restore` goes into scratch targets (sandbox-restore.ts)
 * and must be refused before any phase runs: the scratch keyspace never created, no byte in the
 * files target, no set lost.
 *
 * The signed manifest binds every stored file's size and sha256, so a damaged archive is refused
 * by that check before a byte of it is decrypted, and the agents check the same digest again as
 * they read: through the CLI no damaged archive reaches age's own checks. The one stored file the
 * manifest does not bind is set-key.age (a rotation rewrites it), so each damage is also tried on
 * it, where age's checks and the recipient the manifest records are all that stand. Every case
 * shares one set made on first use and puts back each file it damages, byte for byte.
 * `npm run faults -- --section encryption`, with the sandbox up.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNewIdentityFile } from '../../coordinator/keys';
import { manifestPath, setKeyPath } from '../../shared/destination/layout';
import { storedPath } from '../../shared/encrypted-set';
import type { Manifest } from '../../shared/manifest';
import { runCli } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { anotherFleetsSetKey, forAnotherRecipient, lastChunkCut, oneByteFlipped } from './age-damage';
import { observe, type FaultCase, type Invariants, type Observation } from './case';
import { lastLine, refusedProblem } from './destination-cli-case';
import { faultFleet, faultsEncrypted, type FaultFleet } from './sandbox-fleet';
import { scratchRestore, together, type Damage } from './sandbox-restore';

const SCRATCH = { keyspace: 'thehive_encryption', indexPrefix: 'encryption-' };

/** The section's set, with what the fleet file says of its keys. */
interface EncryptedSet {
  f: FaultFleet;
  id: string;
  manifest: Manifest;
  /** The fleet's recipient the set key is sealed to, and the identity file that opens it. */
  recipient: string;
  identity: string;
}

let made: Promise<EncryptedSet> | null = null;

/** One encrypted set for every case, made on first use (each case puts back what it damages). */
function encryptedSet(): Promise<EncryptedSet> {
  made ??= (async () => {
    if (!faultsEncrypted()) throw new Error('TANDEM_FAULTS_ENCRYPTION=none: the fault fleet writes its sets in clear; the encryption cases need an encrypted one');
    const f = await faultFleet();
    const enc = (JSON.parse(readFileSync(f.fleet.fleetFile, 'utf8')) as { encryption?: { recipients?: string[]; identity?: string } }).encryption;
    if (!enc?.recipients?.length || !enc.identity) throw new Error(`${f.fleet.fleetFile} has no encryption recipients and identity`);
    const id = `encryption-${randomBytes(3).toString('hex')}`;
    const b = await runCli(['backup', '--config', f.fleet.fleetFile, '--id', id]);
    if (b.code !== 0) throw new Error(`backup ${id} exited ${b.code}: ${b.stderr.trim()}`);
    const manifest = JSON.parse(readFileSync(join(f.fleet.destDir, manifestPath(id)), 'utf8')) as Manifest;
    if (!manifest.options.setRecipient) throw new Error(`backup ${id} was written in clear`);
    return { f, id, manifest, recipient: enc.recipients[0], identity: enc.identity };
  })();
  // A failed backup is not kept: the next case tries again and says why.
  made.catch(() => (made = null));
  return made;
}

/** node1's largest table archive as stored (NAME.age), relative to the destination: the one most likely to span several payload chunks. */
function storedArchive(s: EncryptedSet): string {
  const tables = s.manifest.nodes[0].parts.cassandra?.tables ?? [];
  if (!tables.length) throw new Error(`backup ${s.id}: ${s.manifest.nodes[0].node} stored no table archive`);
  return storedPath(tables.reduce((a, t) => (t.size > a.size ? t : a)).path);
}
const at = (s: EncryptedSet, path: string): string => join(s.f.fleet.destDir, path);

/** One restore of a case: a label for the table, a damaged file or extra flags, and the refusal expected. */
interface Attempt {
  label: string;
  damage?: (s: EncryptedSet) => Damage;
  /** Flags added, given a private scratch folder. */
  flags?: (s: EncryptedSet, work: string) => Promise<string[]>;
  why: (s: EncryptedSet) => RegExp;
}

/** The words of a refused restore, by the check that refuses. */
const DAMAGED = '^the backup set is damaged; nothing was changed:$[\\s\\S]*';
const SIZE = (path: string) => new RegExp(`${DAMAGED}${escaped(path)}: size \\d+, manifest says \\d+`, 'm');
const DIGEST = (path: string) => new RegExp(`${DAMAGED}${escaped(path)}: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \\(corrupt\\)`, 'm');
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function encryptionCase(name: string, phase: string, expected: string, attempts: Attempt[]): FaultCase {
  return {
    kind: 'hostile',
    name,
    phase,
    expected: `${expected}; the scratch keyspace never created, 0 bytes restored, no set lost, nothing outside changed`,
    needs: 'sandbox',
    quick: false,
    run: async (): Promise<Observation> => {
      const s = await encryptedSet();
      const work = await scratchDir('encryption-case');
      const seen: string[] = [];
      const problems: string[] = [];
      const measured: Invariants[] = [];
      const left: string[] = [];
      try {
        for (const a of attempts) {
          const r = await scratchRestore(s.f, s.id, SCRATCH, { damage: a.damage?.(s), extra: a.flags ? await a.flags(s, work) : [] });
          seen.push(`${a.label}: exit ${r.run.code} (${lastLine(r.run).slice(0, 200)})`);
          problems.push(...[refusedProblem(`the restore (${a.label})`, r.run, a.why(s)), ...r.problems.map((p) => `${a.label}: ${p}`)].filter(Boolean));
          measured.push(r.measured);
          if (r.leftovers !== 'none') left.push(`${a.label}: ${r.leftovers}`);
        }
      } finally {
        removeScratch(work);
      }
      return { ...observe(seen.join('; '), problems, left.join('; ') || 'none'), measured: together(measured) };
    },
  };
}

/** The same damage on node1's largest table archive, then on set-key.age, which no digest binds. */
function damagedTwice(change: Damage['change'], archiveWhy: (path: string) => RegExp, keyWhy: (s: EncryptedSet) => RegExp): Attempt[] {
  return [
    { label: 'table archive', damage: (s) => ({ file: at(s, storedArchive(s)), change }), why: (s) => archiveWhy(storedArchive(s)) },
    { label: 'set-key.age', damage: (s) => ({ file: at(s, setKeyPath(s.id)), change }), why: keyWhy },
  ];
}

/** What cases 2 to 4 say of the digest: no path through the CLI skips it for a table archive, so the variant is set-key.age. */
const NO_DIGEST_PATH = 'no path through the CLI lets a table archive skip the manifest\'s digest (the coordinator checks it before any phase, the agents again as they read), so the variant without a digest is set-key.age, which the manifest does not bind';

const keyDoesNotDecrypt = (s: EncryptedSet) => new RegExp(`the set key of backup set ${s.id} does not decrypt \\(.+\\): the set is damaged or was altered`);
const sealedTo = (s: EncryptedSet) => new RegExp(`opens the set key of backup set ${s.id}: it is sealed to ${s.recipient}`);

export const encryptionSandboxCases: FaultCase[] = [
  encryptionCase(
    '--identity of a fresh identity the set was not written for',
    'restore:keys',
    'refused when the set key is opened, before any part is read; the message names the recipient the set key is sealed to',
    [{ label: 'wrong identity', flags: async (_s, work) => ['--identity', (await writeNewIdentityFile(join(work, 'other-keys'))).file], why: sealedTo }],
  ),
  encryptionCase(
    'a stored table archive cut short (its last payload chunk removed)',
    'restore:fetch',
    'refused before anything is written: the archive by the manifest\'s size check, before age reads it; ' +
      `${NO_DIGEST_PATH}: cut the same way, refused by age's own check when the set key is opened`,
    damagedTwice((o) => lastChunkCut(o), SIZE, keyDoesNotDecrypt),
  ),
  encryptionCase(
    'one byte flipped in the payload of a stored table archive',
    'restore:fetch',
    'refused: the archive by the manifest\'s sha256 check (same size); ' +
      `${NO_DIGEST_PATH}: one byte of its payload flipped, refused by age's payload authentication`,
    damagedTwice((o) => oneByteFlipped(o), DIGEST, keyDoesNotDecrypt),
  ),
  encryptionCase(
    'a stored table archive replaced by a valid age file of the same size to another recipient',
    'restore:fetch',
    'refused: the archive by the manifest\'s sha256 check (or its size, if the header differs in length); no planted byte restored; ' +
      `${NO_DIGEST_PATH}: replaced by another fleet's set key, refused as no identity given opens it, naming the recipient set-key.json records`,
    [
      { label: 'table archive', damage: (s) => ({ file: at(s, storedArchive(s)), change: forAnotherRecipient }), why: (s) => new RegExp(`${DIGEST(storedArchive(s)).source}|${SIZE(storedArchive(s)).source}`, 'm') },
      { label: 'set-key.age', damage: (s) => ({ file: at(s, setKeyPath(s.id)), change: anotherFleetsSetKey }), why: sealedTo },
    ],
  ),
  encryptionCase(
    'the right identity file, copied with mode 0644',
    'restore:keys',
    'refused before the file is read, the message saying to chmod 600 it',
    [{
      label: 'identity mode 0644',
      flags: async (s, work) => {
        const open = join(work, 'identity-0644.txt');
        copyFileSync(s.identity, open);
        chmodSync(open, 0o644);
        return ['--identity', open];
      },
      why: () => /identity file \S+ has mode 644: its group or others can read it; run `chmod 600 /,
    }],
  ),
];
