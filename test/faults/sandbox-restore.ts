/**
 * A `tandem restore` of a set of the sandbox fault fleet that must be refused, run through the real
 * CLI into scratch targets (a scratch keyspace, an index prefix, a files target folder) so that the
 * live data is never at stake, with one stored file optionally damaged for the run and put back
 * byte for byte after it. Measures what the hostile destination cases measure (sets lost, changes
 * outside, planted bytes restored, peak RSS) and what a refused restore must not have made: the
 * scratch keyspace, scratch indices, any byte in the files target. Whatever of those it finds is
 * a problem, and is removed so that the next case starts clean.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { runCli } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';
import type { Invariants } from './case';
import { changes, plantedBytesIn, runMeasured, snapshot, type CliRun } from './destination-bed';
import { RSS_LIMIT } from './destination-cli-case';
import type { FaultFleet } from './sandbox-fleet';

const GIB = 2 ** 30;

/** Where a refused restore is pointed: none of it may exist after. */
export interface ScratchTargets {
  /** --target-keyspace. */
  keyspace: string;
  /** --index-prefix (lowercase, as Elasticsearch's index names are). */
  indexPrefix: string;
}

/** A stored file changed for the one restore: its absolute path, and its new bytes given the original and the planted marker. */
export interface Damage {
  file: string;
  change(original: Buffer, planted: Buffer): Buffer | 'sparse-GiB';
}

export interface ScratchRestore {
  run: CliRun;
  /** What the restore left or did that it must not have, in words. */
  problems: string[];
  /** What of the restore was found after it (and removed), for the table's leftovers column: 'none' when nothing. */
  leftovers: string;
  measured: Invariants;
}

/** The set ids `tandem list --json` shows complete. */
export async function completeIds(f: FaultFleet): Promise<string[]> {
  const r = await runCli(['list', '--config', f.fleet.fleetFile, '--json']);
  if (r.code !== 0) throw new Error(`tandem list exited ${r.code}: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout).backupSets as { id: string; status: string }[]).filter((s) => s.status === 'complete').map((s) => s.id);
}

/** True when keyspace `name` existed (a restore that got past its checks made it); it is dropped then. */
async function keyspaceMade(f: FaultFleet, name: string): Promise<boolean> {
  const cql = new Client({ contactPoints: f.env.cassandra.contactPoints, localDataCenter: f.env.cassandra.datacenter });
  await cql.connect();
  try {
    const made = (await cql.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [name], { prepare: true })).rowLength > 0;
    if (made) await cql.execute(`DROP KEYSPACE IF EXISTS ${name}`);
    return made;
  } finally {
    await cql.shutdown();
  }
}

/** The indices named `prefix…` (a restore that got past its checks made them); they are deleted then. */
async function indicesMade(f: FaultFleet, prefix: string): Promise<string[]> {
  const url = f.env.elasticsearch.url;
  const r = await fetch(`${url}/_cat/indices/${encodeURIComponent(prefix)}*?format=json&h=index&expand_wildcards=all`);
  if (!r.ok) throw new Error(`Elasticsearch answered ${r.status} listing the indices ${prefix}*`);
  const names = ((await r.json()) as { index: string }[]).map((i) => i.index);
  for (const n of names) await fetch(`${url}/${encodeURIComponent(n)}`, { method: 'DELETE' });
  return names;
}

/** Bytes of the regular files under `dir` (links not followed); 0 when it does not exist. */
function bytesUnder(dir: string): number {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) return 0;
  return st.isDirectory() ? readdirSync(dir).reduce((n, name) => n + bytesUnder(join(dir, name)), 0) : st.isFile() ? st.size : 0;
}

/**
 * `tandem restore id --yes --json` into `targets` and a fresh files target, with `extra` flags,
 * `damage` applied for the run only. `rssBound`: a peak RSS at or over RSS_LIMIT, or none
 * measured, is a problem. Whether the CLI refused, and why, is the caller's to judge.
 */
export async function scratchRestore(f: FaultFleet, id: string, targets: ScratchTargets, opts: { extra?: string[]; damage?: Damage; rssBound?: boolean } = {}): Promise<ScratchRestore> {
  const work = await scratchDir('scratch-restore');
  const sentinel = join(work, 'sentinel');
  const filesTarget = join(work, 'files-target');
  const planted = Buffer.from(`PLANTED-${randomBytes(12).toString('hex')}`);
  mkdirSync(sentinel);
  writeFileSync(join(sentinel, 'keep-me'), planted);
  try {
    const before = await completeIds(f);
    const outside = snapshot([sentinel]);
    const { damage } = opts;
    const original = damage ? readFileSync(damage.file) : null;
    let run: CliRun;
    try {
      if (damage) {
        const next = damage.change(original!, planted);
        if (next === 'sparse-GiB') truncateSync(damage.file, GIB);
        else writeFileSync(damage.file, next);
      }
      run = await runMeasured(['restore', id, '--config', f.fleet.fleetFile, '--yes', '--json', '--target-keyspace', targets.keyspace, '--index-prefix', targets.indexPrefix, '--files-target', filesTarget, ...(opts.extra ?? [])]);
    } finally {
      if (damage) writeFileSync(damage.file, original!);
    }
    const after = await completeIds(f);
    const lost = before.filter((x) => !after.includes(x));
    const changed = changes(outside, snapshot([sentinel]));
    const restored = plantedBytesIn([filesTarget], planted);
    const written = bytesUnder(filesTarget);
    const keyspace = await keyspaceMade(f, targets.keyspace);
    const indices = await indicesMade(f, targets.indexPrefix);
    const problems = [
      damage && !readFileSync(damage.file).equals(original!) ? `${damage.file} was not put back as it was` : '',
      keyspace ? `keyspace ${targets.keyspace} was created: the restore got past its checks (dropped after)` : '',
      indices.length ? `indices restored: ${indices.join(', ')} (deleted after)` : '',
      written ? `${written} bytes written to the files target` : '',
      lost.length ? `sets lost: ${lost.join(', ')}` : '',
      changed.length ? `${changed.length} change(s) outside` : '',
      restored ? `${restored} planted bytes restored` : '',
      opts.rssBound && (run.peakRss === null || run.peakRss >= RSS_LIMIT) ? `coordinator peak RSS ${run.peakRss === null ? 'not measured' : `${(run.peakRss / 2 ** 20).toFixed(0)} MB`}` : '',
    ].filter(Boolean);
    const found = [keyspace ? `keyspace ${targets.keyspace}` : '', ...indices.map((i) => `index ${i}`), written ? `${written} bytes in the files target` : ''].filter(Boolean);
    return { run, problems, leftovers: found.length ? `${found.join(', ')} (removed)` : 'none', measured: { setsLost: lost.length, outsideChanged: changed.length, plantedBytesRestored: restored, peakRss: run.peakRss } };
  } finally {
    removeScratch(work);
  }
}

/** The invariants of several restores of one case: sums, and the largest peak. */
export function together(all: Invariants[]): Invariants {
  const sum = (k: 'setsLost' | 'outsideChanged' | 'plantedBytesRestored') => all.reduce((n, i) => n + i[k], 0);
  const peaks = all.map((i) => i.peakRss).filter((p): p is number => p !== null);
  return { setsLost: sum('setsLost'), outsideChanged: sum('outsideChanged'), plantedBytesRestored: sum('plantedBytesRestored'), peakRss: peaks.length ? Math.max(...peaks) : null };
}
