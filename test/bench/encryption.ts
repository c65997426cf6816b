/**
 * `npm run bench -- encryption [--runs N]`: what encrypting a set costs, side by side in one run
 * on the same data, with the hot writer running. One fleet of agents over the sandbox's three
 * stores in the shape users deploy (cassandra on every node; elasticsearch and files on node1),
 * started before anything is timed, and two fleet files for it: one whose sets are in clear and
 * one with `encryption: {mode: age}` (encryption is the coordinator's choice; the agents only
 * receive a set's recipient). One set of agents, not two: two agents on one Cassandra node would
 * each clear, as debris of an earlier run, the snapshot the other is shipping.
 * Each round, in an order rotated from round to round: `tandem backup --full` of each, then
 * `tandem restore` of each set into scratch targets (a keyspace, prefixed indices, a files folder),
 * dropped again after each restore. Wall times, the ratio encrypted / clear of each round, and the
 * bytes each set stores at the destination. Not a test: it fails only when a backup or a restore
 * does not complete.
 */
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { readSandboxEnv, startWriter, stopWriter, type SandboxEnv } from '../sandbox';
import { encryptFleet, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { filesUnder } from '../helpers/files-under';
import { dropRestoreTargets } from '../helpers/restore-targets';
import { threeStoreRoles } from '../helpers/sandbox-roles';
import { scratchDir } from '../helpers/scratch';
import { median, roundOrder, secondsCell, slowest } from './stats';

/** The two ways: sets in clear, and sets encrypted with age. */
type Way = 'clear' | 'encrypted';
const WAYS: readonly Way[] = ['clear', 'encrypted'];

/** Each way's Elasticsearch repository and scratch restore targets: its own, so the two never meet. */
const REPOSITORY = 'tandem-bench-encryption';
const TARGETS: Record<Way, { keyspace: string; indexPrefix: string }> = {
  clear: { keyspace: 'thehive_bench_clear', indexPrefix: 'bench-clear-' },
  encrypted: { keyspace: 'thehive_bench_age', indexPrefix: 'bench-age-' },
};

/** One way's runs, in round order. */
export interface EncryptionRow {
  way: Way;
  backupSeconds: number[];
  restoreSeconds: number[];
  /** Sum of the file sizes under each set's folder at the destination. */
  setBytes: number[];
}

/** What the bench measured. */
export interface EncryptionBench {
  rows: Record<Way, EncryptionRow>;
  /** Bytes of the clear fleet's Elasticsearch repository after the last round (outside its sets' folders), or null when unreadable. */
  clearRepositoryBytes: number | null;
}

/** Sum of the sizes of every file under `dir`. */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const f of await filesUnder(dir)) total += (await stat(f)).size;
  return total;
}

/** The CLI's --json answer; what it printed on stderr when stdout is not JSON (a crash, a usage error). */
function answerOf<T>(what: string, r: { code: number; stdout: string; stderr: string }): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`${what}: no JSON answer (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  }
}

/** Runs `rounds` rounds; `log` hears of each step as it ends. */
export async function benchEncryption(rounds = 3, log: (m: string) => void = () => undefined): Promise<EncryptionBench> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds ${rounds}: give 1 or more`);
  const env = readSandboxEnv();
  let fleet: TestFleet | undefined;
  const fleetFiles = new Map<Way, string>();
  const rows: Record<Way, EncryptionRow> = {
    clear: { way: 'clear', backupSeconds: [], restoreSeconds: [], setBytes: [] },
    encrypted: { way: 'encrypted', backupSeconds: [], restoreSeconds: [], setBytes: [] },
  };
  let clearRepositoryBytes: number | null = null;
  await startWriter();
  try {
    // Started before any run is timed: an agent's start is not a backup's cost.
    fleet = await makeFleet(threeStoreRoles(env, REPOSITORY), { prepareTimeoutMs: 300_000 });
    fleetFiles.set('clear', fleet.fleetFile);
    // The second fleet file names the identity encryptFleet makes: the restore opens the set with it.
    const encrypted = join(fleet.dir, 'fleet-encrypted.json');
    await copyFile(fleet.fleetFile, encrypted);
    await encryptFleet({ dir: fleet.dir, fleetFile: encrypted });
    fleetFiles.set('encrypted', encrypted);
    await startFleet(fleet);
    for (let round = 0; round < rounds; round++) {
      const order = roundOrder(WAYS, round);
      const ids = new Map<Way, string>();
      for (const way of order) {
        const t0 = Date.now();
        const r = await runCli(['backup', '--config', fleetFiles.get(way)!, '--json', '--full']);
        const seconds = (Date.now() - t0) / 1000;
        const o = answerOf<{ status?: string; id?: string }>(`round ${round + 1}, ${way}: tandem backup`, r);
        if (o.status !== 'complete' || !o.id) throw new Error(`round ${round + 1}, ${way}: tandem backup did not complete (exit ${r.code}): ${r.stderr.slice(-2000)}`);
        ids.set(way, o.id);
        rows[way].backupSeconds.push(seconds);
        rows[way].setBytes.push(await bytesUnder(join(fleet.destDir, o.id)));
        log(`round ${round + 1} backup ${way}: ${seconds.toFixed(1)} s, ${rows[way].setBytes.at(-1)} bytes (${o.id})`);
      }
      for (const way of order) rows[way].restoreSeconds.push(await restoreOnce(env, fleetFiles.get(way)!, way, ids.get(way)!, round, log));
    }
    clearRepositoryBytes = await runCommand(['du', '-sb', join(env.elasticsearch.pathRepo, REPOSITORY)]).then((r) => Number(r.stdout.split('\t')[0]), () => null);
  } finally {
    await stopWriter();
    if (fleet) await removeFleet(fleet);
    await removeRepositories(env);
  }
  return { rows, clearRepositoryBytes };
}

/** Restores set `id` of `way`'s fleet into that way's scratch targets; its wall seconds. The targets are dropped after, whatever the outcome. */
async function restoreOnce(env: SandboxEnv, fleetFile: string, way: Way, id: string, round: number, log: (m: string) => void): Promise<number> {
  const t = TARGETS[way];
  const filesTarget = await scratchDir(`bench-enc-files-${way}`);
  // A keyspace an earlier, interrupted run left would be truncated, not recreated: start from none.
  await dropRestoreTargets(env, t);
  try {
    const t0 = Date.now();
    const r = await runCli(['restore', id, '--config', fleetFile, '--yes', '--json', '--target-keyspace', t.keyspace, '--index-prefix', t.indexPrefix, '--files-target', filesTarget]);
    const seconds = (Date.now() - t0) / 1000;
    const o = answerOf<{ ok?: boolean; problems?: string[] }>(`round ${round + 1}, ${way}: tandem restore ${id}`, r);
    if (!o.ok) throw new Error(`round ${round + 1}, ${way}: tandem restore ${id} failed (exit ${r.code}): ${(o.problems ?? []).join('; ')} ${r.stderr.slice(-2000)}`);
    log(`round ${round + 1} restore ${way}: ${seconds.toFixed(1)} s`);
    return seconds;
  } finally {
    await dropRestoreTargets(env, { ...t, filesTarget });
  }
}

/**
 * The bench's Elasticsearch repositories (and the encrypted fleet's staging ones), their snapshots
 * first, each by name. Best effort: the bench's figures are printed whatever is left here.
 */
async function removeRepositories(env: SandboxEnv): Promise<void> {
  const es = (method: string, path: string) => fetch(`${env.elasticsearch.url}${path}`, { method });
  for (const name of [REPOSITORY, `${REPOSITORY}-staging`, `${REPOSITORY}-staged`]) {
    try {
      const r = await es('GET', `/_snapshot/${name}/_all`);
      const snapshots = r.ok ? ((await r.json()) as { snapshots?: { snapshot: string }[] }).snapshots ?? [] : [];
      if (snapshots.length) await es('DELETE', `/_snapshot/${name}/${snapshots.map((s) => encodeURIComponent(s.snapshot)).join(',')}`);
      await es('DELETE', `/_snapshot/${name}`);
    } catch (err) {
      process.stderr.write(`bench: could not remove the Elasticsearch repository ${name}: ${(err as Error).message}\n`);
    }
  }
}

/** Prints backup and restore: each way's median / worst, the ratio of each round, beside the target; then the bytes per set. */
export function printEncryption(b: EncryptionBench): void {
  const { clear, encrypted } = b.rows;
  for (const [what, pick] of [['backup --full', (r: EncryptionRow) => r.backupSeconds], ['restore into scratch targets', (r: EncryptionRow) => r.restoreSeconds]] as const) {
    const ratios = pick(encrypted).map((s, i) => s / pick(clear)[i]);
    const ratioCell = `${median(ratios).toFixed(2)}× / ${slowest(ratios).toFixed(2)}×`;
    console.log(`  ${what}`);
    for (const r of [clear, encrypted]) console.log(`    ${r.way.padEnd(10)} wall ${secondsCell(pick(r)).padStart(16)}   runs ${pick(r).map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`    ${'encrypted / clear'.padEnd(10)} ${ratioCell.padStart(16)} (median / worst; target ≤ 1.05×)   rounds ${ratios.map((x) => `${x.toFixed(2)}×`).join(' ')}`);
  }
  console.log('  bytes stored per set (files under the set\'s folder at the destination)');
  for (const r of [clear, encrypted]) console.log(`    ${r.way.padEnd(10)} ${String(median(r.setBytes)).padStart(12)} bytes median   sets ${r.setBytes.join(' ')}`);
  // A clear set's index stays in Elasticsearch's repository; an encrypted set carries its own copy.
  const repo = b.clearRepositoryBytes === null ? 'unreadable' : `${b.clearRepositoryBytes} bytes`;
  console.log(`    the clear sets' index snapshots, in Elasticsearch's repository outside their folders (shared between them): ${repo}`);
  console.log(`    encrypted / clear: ${(median(encrypted.setBytes) / median(clear.setBytes)).toFixed(3)}× (medians, folders only)`);
}
