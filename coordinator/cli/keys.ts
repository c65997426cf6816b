/**
 * `tandem keys init|list|rotate`: the age keys of encrypted backup sets. A set's files are
 * encrypted to a key of the set's own, stored at the destination sealed to the fleet's recipients
 * (docs/encryption.md); changing those recipients means editing the fleet file, then `rotate`.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { loadFleetConfig, type FleetConfig } from '../config';
import { loadIdentityFile, readSetKeys, rotateCaptureKeys, rotateSetKeys, sameRecipients, writeNewIdentityFile, type AgeEncryptionConfig, type CaptureKeyOutcome, type RotationOutcome, type SetKeyState } from '../keys';
import { signingOf, trustedKeysOf } from '../signing';
import { EXIT, UsageError, say } from './common';
import { watchInterrupt } from './interrupt';

export const KEYS_HELP = `Usage: tandem keys init --dir DIR [--json]
       tandem keys list [--config FILE] [--json]
       tandem keys rotate [--config FILE] [--identity FILE] [--all] [--dry-run] [--json]

init    creates DIR/age-identity.txt (mode 600, folder created with mode 700), an age identity
        in age-keygen's format, and prints its recipient (age1…) to put in the fleet file's
        encryption.recipients. Never replaces an existing file.
list    prints the fleet's recipients and, for every backup set at the destination, the
        recipients its set key is sealed to (from <id>/set-key.json, believed only when
        <id>/set-key.sig signs it with a trusted key) and whether that differs.
rotate  reseals the set key of every set not sealed to exactly the fleet's current recipients:
        opens it with the identity, seals it to the recipients, writes set-key.age,
        set-key.json, then its signature set-key.sig. A set key whose set-key.json is not
        signed by a trusted key is resealed. Then reseals every data key of the commitlog capture
        (tandem_capture/<cluster>/<node>/keys/). Data files are not rewritten. Adding or removing a recipient is: edit
        encryption.recipients in the fleet file (and roles.cassandra.capture.recipients in each
        capturing agent's file), then run rotate.

Options:
      --dir DIR         folder for the new identity file (init)
  -c, --config FILE     fleet file (YAML); default /etc/tandem/fleet.yaml
  -i, --identity FILE   age identity file (mode 600) that opens the current set keys (rotate);
                        default the fleet file's encryption.identity
      --all             reseal every set key, also those whose signed set-key.json says they
                        are current
  -n, --dry-run         say which sets rotate would reseal; opens and writes nothing
      --json            print one JSON object on stdout instead of text
  -h, --help            this help`;

const options = {
  dir: { type: 'string' },
  config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
  identity: { type: 'string', short: 'i' },
  all: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', short: 'n', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true; strict: true }>>['values'];

/** Runs `tandem keys`. */
export async function keysCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) return void console.log(KEYS_HELP), EXIT.ok;
  const [action, ...extra] = positionals;
  if (extra.length) throw new UsageError(`keys: unexpected argument ${JSON.stringify(extra[0])}`);
  // Flags that belong to another action are refused rather than silently ignored.
  const allowed: Record<string, (keyof Values)[]> = { init: ['dir'], list: ['config'], rotate: ['config', 'identity', 'all', 'dry-run'] };
  if (!action || !allowed[action]) throw new UsageError('keys: expected init, list or rotate (see tandem keys --help)');
  for (const flag of ['dir', 'identity', 'all', 'dry-run'] as const) {
    if (values[flag] && !allowed[action].includes(flag)) throw new UsageError(`keys ${action}: --${flag} is not an option of ${action}`);
  }
  if (action === 'init') return initAction(values);
  if (action === 'list') return listAction(values);
  return rotateAction(values);
}

async function initAction(values: Values): Promise<number> {
  if (!values.dir) throw new UsageError('keys init: --dir is required');
  const { file, recipient } = await writeNewIdentityFile(resolve(values.dir));
  if (values.json) console.log(JSON.stringify({ identityFile: file, recipient }));
  else {
    say(`created ${file} (mode 600): keep it secret, and keep a copy offline; whoever holds it can read every set sealed to it`);
    console.log(recipient);
  }
  return EXIT.ok;
}

/** What list says about one set's key, against the fleet's recipients. */
function describeSet(s: SetKeyState, fleet: readonly string[] | null): { id: string; state: string; recipients: string[] | null; current: boolean | null; note: string } {
  if (s.state === 'clear') return { id: s.id, state: 'clear', recipients: null, current: null, note: 'not encrypted' };
  if (s.state === 'damaged') return { id: s.id, state: 'damaged', recipients: null, current: null, note: `damaged: ${s.problem}` };
  if (!s.info || !s.matches) return { id: s.id, state: 'unknown', recipients: s.info?.recipients ?? null, current: false, note: `${s.problem ?? 'set-key.json does not describe set-key.age'}; run tandem keys rotate` };
  const current = fleet ? sameRecipients(s.info.recipients, fleet) : false;
  const added = fleet ? fleet.filter((r) => !s.info!.recipients.includes(r)) : [];
  const removed = fleet ? s.info.recipients.filter((r) => !fleet.includes(r)) : [];
  const change = [...added.map((r) => `+${r}`), ...removed.map((r) => `-${r}`)].join(' ');
  return { id: s.id, state: 'sealed', recipients: s.info.recipients, current, note: current ? "sealed to the fleet's recipients" : `sealed to ${s.info.recipients.join(', ')}${change ? ` (rotate: ${change})` : ''}` };
}

async function listAction(values: Values): Promise<number> {
  const fleet = loadFleetConfig(values.config!);
  const recipients = fleet.encryption.mode === 'age' ? fleet.encryption.recipients : null;
  const sets = (await readSetKeys(openDestination(fleet.destination), trustedKeysOf(fleet))).map((s) => describeSet(s, recipients));
  if (values.json) {
    console.log(JSON.stringify({ encryption: fleet.encryption.mode, recipients: recipients ?? [], identity: (fleet.encryption.mode === 'age' && fleet.encryption.identity) || null, backupSets: sets }));
    return EXIT.ok;
  }
  if (!recipients) console.log(`${values.config}: encryption none (new sets are written in clear)`);
  else {
    console.log(`${values.config}: encryption age, ${recipients.length} recipient${recipients.length === 1 ? '' : 's'}`);
    for (const r of recipients) console.log(`  ${r}`);
  }
  if (!sets.length) console.log('no backup sets');
  for (const s of sets) console.log(`${s.id}  ${s.note}`);
  return EXIT.ok;
}

/** The fleet's age section, or a refusal saying what to set. */
function ageSection(fleet: FleetConfig, config: string): AgeEncryptionConfig {
  if (fleet.encryption.mode !== 'age') throw new UsageError(`keys rotate: ${config} has encryption mode none: there are no recipients to seal set keys to; set encryption: {mode: age, recipients: [age1…]}`);
  return fleet.encryption;
}

/** One line of rotate's output. */
function describeOutcome(o: RotationOutcome): string {
  const change = [...o.added.map((r) => `+${r}`), ...o.removed.map((r) => `-${r}`)].join(' ');
  const before = o.before ? '' : ' (its former recipients were not recorded)';
  switch (o.outcome) {
    case 'current':
      return "already sealed to the fleet's recipients";
    case 'clear':
      return 'not encrypted: nothing to reseal';
    case 'would-reseal':
      return `would reseal: ${change || 'same recipients'}${before}`;
    case 'resealed':
      return `resealed: ${change || 'same recipients'}${before}`;
    case 'failed':
      return `FAILED, left as it was: ${o.problem}`;
  }
}

async function rotateAction(values: Values): Promise<number> {
  const config = values.config!;
  const fleet = loadFleetConfig(config);
  const age = ageSection(fleet, config);
  const dryRun = values['dry-run']!;
  const identityFile = values.identity ? resolve(values.identity) : age.identity;
  if (!dryRun && !identityFile) throw new UsageError(`keys rotate: give --identity FILE, or set encryption.identity in ${config}: an identity opens the current set keys`);
  // Loaded before anything is read at the destination: a wrong mode or file stops here.
  const identities = dryRun ? [] : await loadIdentityFile(identityFile!);
  const interrupt = watchInterrupt((name) => say(`${name}: stopping after the sets in flight (each keeps a whole pair of files); run tandem keys rotate again to finish`));
  const started = performance.now();
  let outcomes: RotationOutcome[];
  let captureKeys: CaptureKeyOutcome[];
  try {
    const dest = openDestination(fleet.destination);
    outcomes = await rotateSetKeys(dest, age.recipients, identities, signingOf(fleet), { dryRun, all: values.all, signal: interrupt.signal });
    captureKeys = await rotateCaptureKeys(dest, age.recipients, identities, { dryRun, signal: interrupt.signal });
  } catch (err) {
    if (interrupt.signal.aborted) return EXIT.interrupted;
    throw err;
  } finally {
    interrupt.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  const count = (k: RotationOutcome['outcome']) => outcomes.filter((o) => o.outcome === k).length;
  const failed = count('failed') + captureKeys.filter((k) => k.outcome === 'failed').length;
  if (values.json) console.log(JSON.stringify({ dryRun, recipients: age.recipients, seconds, backupSets: outcomes, captureKeys }));
  else {
    for (const o of outcomes) console.log(`${o.id}  ${describeOutcome(o)}`);
    for (const k of captureKeys) console.log(`capture key ${k.key}  ${k.outcome === 'failed' ? `FAILED, left as it was: ${k.problem}` : k.outcome.replace('-', ' ')}`);
    if (captureKeys.length) console.log(`${captureKeys.filter((k) => k.outcome !== 'failed').length} of ${captureKeys.length} commitlog capture keys ${dryRun ? 'would be ' : ''}resealed`);
    console.log(`${dryRun ? `${count('would-reseal')} would be resealed` : `${count('resealed')} resealed`}, ${count('current')} already current, ${count('clear')} not encrypted, ${failed} failed (${seconds.toFixed(2)} s)`);
  }
  return failed ? EXIT.failed : EXIT.ok;
}
