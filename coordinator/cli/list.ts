/** `tandem list`: the backup sets at the fleet's destination. */
import { printable } from '../../shared/printable';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { loadFleetConfig } from '../config';
import { readCapture, type NodeCapture } from '../sets/capture-windows';
import { listBackupSets, newestFirst, scanSets } from '../sets/catalog';
import { captureWindows, setCut, type CaptureWindow } from '../sets/windows';
import { ConfigError } from '../../shared/errors';
import { setTrustOf } from '../signing';
import { formatBytes } from '../../shared/format';
import { EXIT } from './common';

/** Every line of this verb holds strings read back from the destination: printed through one escaping. */
const print = (line: string) => console.log(printable(line));

export const LIST_HELP = `Usage: tandem list [--all] [--config FILE] [--json]

Lists the backup sets at the destination. Only sets with a valid manifest signed by a trusted
key (the fleet file's signing block) are complete; a folder without a manifest is shown as
incomplete and is not a backup; one whose manifest is not believed as untrusted, with why:
unsigned (written before sets were signed: 'tandem adopt ID'), invalid-signature-file,
unknown-key (signed by a key signing.trusted does not list), bad-signature (changed after it
was signed), folder-mismatch (it describes another set), invalid-field (a date that is no
date or in the future, no nodes), oversized. An untrusted set is never used, built on, counted
or removed by a prune. One whose signed manifest this tandem cannot read (another format) is
unreadable. --all also shows the folders of pruned sets that still hold files later sets
reference: "pruned (holds N files of later sets)".

With a commitlog capture at the destination (tandem_capture/), the recoverable windows follow:
from a complete set's Cassandra cut to the earliest instant every Cassandra node of the set has
captured, cut short at the first gap or refused capture line after the cut (named as the edge);
then each node's capture (first and newest piece stored, segments, bytes, gaps, and every line
refused, by file). Signatures are checked against the fleet's tls.ca; no piece is read.`;

const options = {
  all: { type: 'boolean', default: false },
  config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs `tandem list`. */
export async function listCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options, strict: true });
  if (values.help) return void console.log(LIST_HELP), EXIT.ok;
  // A pruned folder is no backup: it only stores files that kept sets reference.
  const fleet = loadFleetConfig(values.config!);
  const dest = openDestination(fleet.destination);
  const trust = setTrustOf(fleet);
  const scanned = await scanSets(dest, trust);
  const sets = (await listBackupSets(dest, trust, scanned)).filter((s) => values.all || s.status !== 'pruned');
  const capture = await readCapture(dest, () => fleetCa(fleet.tls?.ca));
  const windows = captureWindows(newestFirst(scanned).map((s) => setCut(s.manifest)), capture);
  if (values.json) return void console.log(JSON.stringify({ backupSets: sets, captureWindows: windows, capture })), EXIT.ok;
  if (!sets.length) print('no backup sets');
  for (const s of sets) {
    if (s.status === 'pruned') {
      print(`${s.id}  pruned (holds ${s.files} files of later sets, ${formatBytes(s.bytes)})`);
      continue;
    }
    print(`${s.id}  ${s.status.padEnd(10)}  ${String(s.files).padStart(5)} files  ${formatBytes(s.bytes).padStart(10)}` +
      (s.snapshotSpreadMs != null ? `  spread ${s.snapshotSpreadMs} ms` : '') + (s.reason ? `  ${s.reason}:` : '') + (s.problem ? `  ${s.problem}` : '') +
      (s.ignoredMarker ? `  (${s.ignoredMarker})` : ''));
  }
  if (capture.length) printCapture(windows, capture);
  return EXIT.ok;
}

/** The fleet's CA, which issued the agents' certificates that sign the capture; null without tls. */
function fleetCa(file: string | undefined): X509Certificate | null {
  if (!file) return null;
  try {
    return new X509Certificate(readFileSync(file));
  } catch (err) {
    throw new ConfigError(`cannot read the fleet's CA certificate ${file} (tls.ca), which checks the capture's signatures: ${(err as Error).message}`);
  }
}

/** The windows, then each node's capture with its gaps and refused lines: none is left unsaid. */
function printCapture(windows: readonly CaptureWindow[], capture: readonly NodeCapture[]): void {
  print('');
  print('recoverable windows (commitlog capture):');
  if (!windows.length) print('  none');
  for (const w of windows) print(`  ${w.cluster}  from ${w.set} at ${w.from}  to ${w.to}  (${w.nodes.join(', ')})  edge: ${w.edge.what}`);
  print('capture:');
  for (const c of capture) {
    print(`  ${c.cluster}/${c.node}  ${c.capturedFrom ?? '-'} .. ${c.capturedTo ?? '-'}  ${String(c.segments).padStart(5)} segments  ${formatBytes(c.bytes).padStart(10)}  ${c.gaps.length} gaps  ${c.problems.length} problems`);
    for (const g of c.gaps) print(`    gap ${g.kind} at ${g.at}${g.segment ? ` ${g.segment}` : ''}${g.fromId ? ` segments ${g.fromId}-${g.toId}` : ''}: ${g.detail}`);
    for (const p of c.problems) print(`    refused: ${p.file}: ${p.detail}`);
  }
}
