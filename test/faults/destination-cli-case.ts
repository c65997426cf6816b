/**
 * The shape of a hostile destination case run through the real CLI: a fresh bed
 * (destination-bed.ts), the hostile change, the CLI runs that must refuse it or stay harmless, and
 * the four invariants measured around them (sets lost, changes outside, planted bytes restored,
 * peak RSS), each a problem when it does not hold.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestPath } from '../../shared/destination/layout';
import { changes, completeSets, plantedBytesIn, runMeasured, snapshot, withBed, type Bed, type BedOptions, type CliRun } from './destination-bed';
import { observe, type FaultCase, type Observation } from './case';

/** The bound the issue sets on the coordinator's resident memory in the oversized cases. */
export const RSS_LIMIT = 300 * 2 ** 20;

/** A bed as a case sees it, with the CLI bound to its fleet file. */
export interface CaseBed extends Bed {
  /** `tandem VERB ARGS… --config <the bed's fleet file>`, its peak RSS counted for the case. */
  cli(verb: string, ...args: string[]): Promise<CliRun>;
  /** `tandem restore ID --yes --json --files-target <targets>/<name> [extra…]`. */
  restore(id: string, name: string, ...extra: string[]): Promise<CliRun>;
  /** Path of `rel` at the destination. */
  at(...rel: string[]): string;
}

/** What a case's runs showed: a few words, the broken expectations, and the sets its own policy removes. */
export interface CaseResult {
  observed: string;
  problems: string[];
  /** Ids a prune of the case removes by its policy: not counted as lost. */
  removed?: string[];
}

/** The CLI's last stderr line that says something, with the first detail line under it, for the table. */
export function lastLine(r: CliRun): string {
  const lines = r.stderr.trim().split('\n');
  const i = lines.map((l) => !l.startsWith(' ')).lastIndexOf(true);
  return i < 0 ? '' : [lines[i], lines[i + 1]?.trim()].filter(Boolean).join(' ');
}

/** Words for the table: each run's exit and, when it failed, its last line. */
export const said = (...runs: [string, CliRun][]): string => runs.map(([what, r]) => `${what}: exit ${r.code}${r.code ? ` (${lastLine(r).slice(0, 160)})` : ''}`).join('; ');

/** '' when `r` exited non-zero with stderr matching `why`; else what went wrong. */
export function refusedProblem(what: string, r: CliRun, why: RegExp): string {
  if (r.code === 0) return `${what} exited 0: accepted`;
  return why.test(r.stderr) ? '' : `${what} exited ${r.code}, not for the expected reason (${why.source}): ${lastLine(r)}`;
}

/** '' when `r` exited 0; else what went wrong. */
export const okProblem = (what: string, r: CliRun): string => (r.code === 0 ? '' : `${what} exited ${r.code}: ${lastLine(r)}`);

/** The parent recorded in set `id`'s manifest. */
export const parentOf = (bed: Bed, id: string): string | null => (JSON.parse(readFileSync(join(bed.fleet.destDir, manifestPath(id)), 'utf8')) as { parent: string | null }).parent;

/** A hostile destination case through the real CLI (phase default 'destination'); `oversized` adds the RSS bound. */
export function cliCase(
  name: string,
  expected: string,
  opts: BedOptions & { oversized?: boolean; setup?: (bed: Bed) => void; phase?: string },
  act: (bed: CaseBed) => Promise<CaseResult>,
): FaultCase {
  return {
    kind: 'hostile',
    name,
    phase: opts.phase ?? 'destination',
    expected: opts.oversized ? `${expected}; coordinator RSS under ${RSS_LIMIT / 2 ** 20} MB` : expected,
    needs: 'rehearsal',
    quick: false,
    run: () =>
      withBed(opts, (bed) => {
        // What the case needs outside the destination exists before the snapshot of the outside is taken.
        opts.setup?.(bed);
        return measure(bed, opts.oversized ?? false, act);
      }),
  };
}

async function measure(bed: Bed, oversized: boolean, act: (bed: CaseBed) => Promise<CaseResult>): Promise<Observation> {
  const before = await completeSets(bed);
  const watched = [bed.sentinel, bed.store];
  const outside = snapshot(watched);
  let peak: number | null = null;
  const cli = async (verb: string, ...args: string[]) => {
    const r = await runMeasured([verb, ...args, '--config', bed.fleet.fleetFile]);
    if (r.peakRss !== null) peak = Math.max(peak ?? 0, r.peakRss);
    return r;
  };
  const caseBed: CaseBed = {
    ...bed,
    cli,
    restore: (id, name, ...extra) => cli('restore', id, '--yes', '--json', '--files-target', join(bed.targets, name), ...extra),
    at: (...rel) => join(bed.fleet.destDir, ...rel),
  };
  const r = await act(caseBed);
  const after = await completeSets(bed);
  const lost = before.filter((id) => !after.includes(id) && !(r.removed ?? []).includes(id));
  const changed = changes(outside, snapshot(watched));
  const planted = plantedBytesIn([bed.targets], bed.planted);
  const problems = r.problems.filter(Boolean);
  if (lost.length) problems.push(`sets lost: ${lost.join(', ')}`);
  if (changed.length) problems.push(`${changed.length} change(s) outside the destination and the targets: ${changed.slice(0, 3).join('; ')}`);
  if (planted) problems.push(`${planted} planted bytes restored`);
  if (oversized && (peak === null || peak >= RSS_LIMIT)) problems.push(peak === null ? 'the peak RSS was not measured' : `coordinator peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
  return { ...observe(r.observed.slice(0, 600), problems), measured: { setsLost: lost.length, outsideChanged: changed.length, plantedBytesRestored: planted, peakRss: peak } };
}
