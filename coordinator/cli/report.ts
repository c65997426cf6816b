/** `tandem report ID --html FILE [--svg FILE]`: where a backup set's time went, as a page. */
import { parseArgs } from 'node:util';
import { openDestination } from '../../shared/destination';
import { NotFoundError } from '../../shared/errors';
import { loadFleetConfig } from '../config';
import { readManifest } from '../sets/read-manifest';
import { setTrustOf } from '../signing';
import { backupModel, writeReport } from '../report';
import { backupIdArgument, checkArg, EXIT, say, UsageError } from './common';

export const REPORT_HELP = `Usage: tandem report ID --html FILE [--svg FILE] [--config FILE]

Draws where a backup set's time went, from its manifest: one horizontal timeline per node
(Prepare, Commit with the snapshot instant as a marker, each table's archive, the Elasticsearch
snapshot, the files copy, shipping, the finish) and one for the coordinator's phases, on one
time axis (the coordinator's clock: each node's instants are moved by its clock offset), with
sizes and rates (MB/s) per bar, the spread of the Cassandra cut in a zoomed inset, and totals.
A set written before tandem kept timelines shows what its manifest has, and says so.

Options:
      --html FILE     write one self-contained HTML page (inline SVG and CSS, no script,
                      nothing fetched)
      --svg FILE      write the timeline alone as an SVG file
  -c, --config FILE   fleet file (YAML), for the destination; default /etc/tandem/fleet.yaml
  -h, --help          this help

Exit: 0 written, 1 a file could not be written, 2 usage error (no --html or --svg, a set that
is not at the destination or has no manifest).`;

/** An output file named on the command line: a file name, not a folder. */
export function outputFile(v: string): string {
  if (v.endsWith('/') || /(^|\/)\.\.?$/.test(v)) throw new UsageError(`${JSON.stringify(v)} is a folder; name a file`);
  return v;
}

/** Runs the verb; returns the exit code. */
export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
      html: { type: 'string' },
      svg: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(REPORT_HELP), EXIT.ok;
  // Every argument is checked before the fleet file is read.
  const id = backupIdArgument('report', positionals);
  const html = checkArg('--html', values.html, outputFile);
  const svg = checkArg('--svg', values.svg, outputFile);
  if (!html && !svg) throw new UsageError('report: give --html FILE (and --svg FILE for the timeline alone)');
  if (html && html === svg) throw new UsageError('report: --html and --svg name the same file');
  const fleet = loadFleetConfig(values.config!);
  const destination = openDestination(fleet.destination);
  let manifest;
  try {
    manifest = await readManifest(destination, id, setTrustOf(fleet));
  } catch (err) {
    // An id that names no complete set is a wrong argument: nothing to draw.
    if (err instanceof NotFoundError) throw new UsageError(`report: ${err.message}`);
    throw err;
  }
  for (const file of await writeReport(backupModel(manifest), { html, svg })) say(`report of ${id} written to ${file}`);
  return EXIT.ok;
}
