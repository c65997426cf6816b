/** `tandem show ID`: one backup set; with --archives, the tar commands of a restore by hand. */
import { printable } from '../../shared/printable';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { formatBytes } from '../../shared/format';
import { loadFleetConfig } from '../config';
import { tableArchives, tarFlags } from '../sets/archives';
import { readManifest } from '../sets/read-manifest';
import { setTrustOf } from '../signing';
import { backupIdArgument, EXIT } from './common';
import { parseIdentity } from '../../shared/age';
import { OpenedDestination, storedPath } from '../../shared/encrypted-set';
import { setKeyPath } from '../../shared/destination/layout';
import { setIdentitiesFor } from '../keys/set-identity';

/** Every line of this verb holds strings read back from the destination: printed through one escaping. */
const print = (line: string) => console.log(printable(line));

export const SHOW_HELP = `Usage: tandem show ID [--archives] [--config FILE] [--json]

Shows one complete backup set: nodes, snapshot instants and their spread, parts, sizes, and the
set it was built on.

  --archives   per node and table, the archives to extract and the tar commands that do it:
               an incremental set takes the SSTables it kept from earlier sets' archives
               (named members), then everything of its own archive. Paths are at the
               destination; fetch them first when it is not a local folder. For an
               encrypted set, the commands first unseal the set keys (age -d -i IDENTITY;
               an incremental set's earlier archives are encrypted to their own set's key),
               then pipe each archive through age -d -i set-key-SET.txt into tar.
  --identity FILE  age identity file (mode 600) that opens an encrypted set's key, whose
               contents.json names the archives (--archives); default the fleet file's
               encryption.identity`;

const options = {
  config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
  archives: { type: 'boolean', default: false },
  identity: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs `tandem show ID`. */
export async function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) return void console.log(SHOW_HELP), EXIT.ok;
  const id = backupIdArgument('show', positionals);
  const fleet = loadFleetConfig(values.config!);
  const dest = openDestination(fleet.destination);
  const m = await readManifest(dest, id, setTrustOf(fleet));
  if (values.archives) {
    // An encrypted set's contents.json is encrypted too: reading it takes the set key.
    const identities = await setIdentitiesFor(dest, m, fleet.encryption, values.identity);
    const identity = identities.length > 0;
    const tables = await tableArchives(identity ? new OpenedDestination(dest, identities.map(parseIdentity), m) : dest, m);
    if (values.json) return void console.log(JSON.stringify({ id: m.id, encrypted: Boolean(identity), tables })), EXIT.ok;
    const root = fleet.destination.type === 'local' ? fleet.destination.path : '.';
    if (fleet.destination.type !== 'local') print(`# paths are relative to ${dest.describe()}: fetch the archives into the current folder first`);
    // An incremental set's archives kept from earlier sets are encrypted to those sets' keys: one key file per set.
    const keyOf = (set: string) => `set-key-${set}.txt`;
    if (identity) {
      const keyFile = values.identity ?? (fleet.encryption.mode === 'age' ? fleet.encryption.identity : undefined) ?? 'IDENTITY';
      print(`# encrypted set: unseal the set keys first (keep the set-key-*.txt files private, remove them afterwards)`);
      for (const set of new Set([m.id, ...tables.flatMap((t) => t.archives.map((a) => a.set))])) print(`age -d -i ${keyFile} -o ${keyOf(set)} ${join(root, setKeyPath(set))}`);
    }
    for (const t of tables) {
      const dir = `restore/${t.node}/${t.keyspace}/${t.table}`;
      print(`# ${t.node} ${t.keyspace}.${t.table}: ${t.archives.length} archive(s)`);
      print(`mkdir -p ${dir}`);
      for (const a of t.archives) {
        const members = a.members.length ? ` ${a.members.join(' ')}` : '';
        if (identity) print(`age -d -i ${keyOf(a.set)} ${join(root, storedPath(a.path))} | tar ${tarFlags(a.path)} - -C ${dir}${members}`);
        else print(`tar ${tarFlags(a.path)} ${join(root, a.path)} -C ${dir}${members}`);
      }
    }
    return EXIT.ok;
  }
  if (values.json) return void console.log(JSON.stringify(m)), EXIT.ok;
  print(`backup set ${m.id} (${m.status})${m.parent ? `, built on ${m.parent}` : ', full'}`);
  print(`  committed ${m.committedAt}, completed ${m.completedAt}, ${(m.durationMs / 1000).toFixed(1)} s`);
  print(`  ${m.files.length + m.listed.files} files, ${formatBytes(m.bytes)}; snapshot spread ${m.snapshotSpreadMs ?? 'n/a'} ms` +
    (m.crossStoreSpreadMs != null ? `, ${m.crossStoreSpreadMs} ms across stores` : ''));
  if (m.references.length) {
    print(`  relies on ${m.references.length} archive(s) of earlier sets, ${formatBytes(m.references.reduce((n, r) => n + r.size, 0))}: ${[...new Set(m.references.map((r) => r.set))].join(', ')}`);
  }
  // A clear set's setRecipient (null) is left out: its line reads as before encryption existed.
  print(`  options: ${Object.entries(m.options).filter(([k, v]) => k !== 'setRecipient' || v !== null).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const n of m.nodes) {
    print(`  node ${n.node} (${n.hostname}) roles ${n.roles.join(',')}, cut at ${new Date(n.committedAt).toISOString()}`);
    for (const [role, part] of Object.entries(n.parts)) {
      if (!part) continue;
      const files = m.files.filter((f) => f.node === n.node && f.role === role);
      const listed = role === 'files' && 'fileCount' in part ? { files: part.fileCount, bytes: part.bytes } : { files: 0, bytes: 0 };
      print(`    ${role}: ${files.length + listed.files} files, ${formatBytes(files.reduce((s, f) => s + f.size, 0) + listed.bytes)}; ${part.summary}`);
    }
  }
  return EXIT.ok;
}
