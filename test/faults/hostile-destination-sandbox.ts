/**
 * Hostile Cassandra files at a destination through the real CLI, on the sandbox (the cassandra
 * role needs a real Cassandra): a table archive and contents.json of a complete set modified,
 * truncated or inflated to 1 GiB, then `tandem restore` into scratch targets. Each must be refused
 * when the set's parts are checked, before any phase runs: the scratch keyspace is never created,
 * no planted byte reaches the files target, no set is lost, nothing outside changes, and the
 * coordinator stays under 300 MB. `npm run faults -- --section destination-sandbox`, with the
 * sandbox up.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import type { Manifest } from '../../shared/manifest';
import { manifestPath } from '../../shared/destination/layout';
import { storedPath } from '../../shared/encrypted-set';
import { runCli } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { observe, type FaultCase, type Observation } from './case';
import { changes, plantedBytesIn, runMeasured, snapshot } from './destination-bed';
import { lastLine, RSS_LIMIT } from './destination-cli-case';
import { faultFleet, type FaultFleet } from './sandbox-fleet';

const SCRATCH = 'thehive_hostile';
const GIB = 2 ** 30;

/** The set ids `tandem list --json` shows complete. */
async function completeIds(f: FaultFleet): Promise<string[]> {
  const r = await runCli(['list', '--config', f.fleet.fleetFile, '--json']);
  if (r.code !== 0) throw new Error(`tandem list exited ${r.code}: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout).backupSets as { id: string; status: string }[]).filter((s) => s.status === 'complete').map((s) => s.id);
}

/** Whether the scratch keyspace exists (a restore that got past its checks would have made it). */
async function scratchKeyspaceExists(): Promise<boolean> {
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
  try {
    return (await cql.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [SCRATCH], { prepare: true })).rowLength > 0;
  } finally {
    await cql.shutdown();
  }
}

/** A Cassandra file of a fresh complete set, chosen from its manifest. */
type Pick = (m: Manifest) => string;
const contentsOf: Pick = (m) => m.nodes[0].parts.cassandra!.contents.path;
const archiveOf: Pick = (m) => m.nodes[0].parts.cassandra!.tables[0].path;

function sandboxCase(name: string, pick: Pick, change: (original: Buffer, planted: Buffer) => Buffer | 'sparse-GiB', why: RegExp): FaultCase {
  return {
    kind: 'hostile',
    name,
    phase: 'restore:fetch',
    expected: `restore refused when the parts are checked, before any phase; the scratch keyspace never created; coordinator RSS under ${RSS_LIMIT / 2 ** 20} MB`,
    needs: 'sandbox',
    quick: false,
    run: async (): Promise<Observation> => {
      const f = await faultFleet();
      const id = `hostile-${randomBytes(3).toString('hex')}`;
      const b = await runCli(['backup', '--config', f.fleet.fleetFile, '--id', id]);
      if (b.code !== 0) throw new Error(`backup ${id} exited ${b.code}: ${b.stderr.trim()}`);
      const work = await scratchDir('hostile-sandbox');
      const sentinel = join(work, 'sentinel');
      const target = join(work, 'files-target');
      const planted = Buffer.from(`PLANTED-${randomBytes(12).toString('hex')}`);
      mkdirSync(sentinel);
      writeFileSync(join(sentinel, 'keep-me'), planted);
      try {
        const before = await completeIds(f);
        const outside = snapshot([sentinel]);
        const m = JSON.parse(readFileSync(join(f.fleet.destDir, manifestPath(id)), 'utf8')) as Manifest;
        // Of an encrypted set, the stored file is the part's name + .age: its ciphertext is what is changed.
        const file = join(f.fleet.destDir, m.options.setRecipient ? storedPath(pick(m)) : pick(m));
        const original = readFileSync(file);
        const next = change(original, planted);
        if (next === 'sparse-GiB') truncateSync(file, GIB);
        else writeFileSync(file, next);
        let r;
        try {
          r = await runMeasured(['restore', id, '--config', f.fleet.fleetFile, '--yes', '--json', '--target-keyspace', SCRATCH, '--index-prefix', 'hostile-', '--files-target', target]);
        } finally {
          writeFileSync(file, original);
        }
        const after = await completeIds(f);
        const lost = before.filter((x) => !after.includes(x));
        const changed = changes(outside, snapshot([sentinel]));
        const restored = plantedBytesIn([target], planted);
        const created = await scratchKeyspaceExists();
        const problems = [
          r.code === 0 ? 'the restore exited 0' : why.test(r.stderr) ? '' : `refused otherwise: ${lastLine(r)}`,
          created ? `keyspace ${SCRATCH} was created: the restore got past its checks` : '',
          lost.length ? `sets lost: ${lost.join(', ')}` : '',
          changed.length ? `${changed.length} change(s) outside` : '',
          restored ? `${restored} planted bytes restored` : '',
          r.peakRss === null || r.peakRss >= RSS_LIMIT ? `coordinator peak RSS ${r.peakRss === null ? 'not measured' : `${(r.peakRss / 2 ** 20).toFixed(0)} MB`}` : '',
        ].filter(Boolean);
        return { ...observe(`restore: exit ${r.code} (${lastLine(r).slice(0, 160)})`, problems), measured: { setsLost: lost.length, outsideChanged: changed.length, plantedBytesRestored: restored, peakRss: r.peakRss } };
      } finally {
        removeScratch(work);
        await runCli(['delete', id, '--config', f.fleet.fleetFile]);
      }
    },
  };
}

/** The planted bytes, padded or cut to `size`. */
const sameSize = (o: Buffer, planted: Buffer) => Buffer.concat([planted, Buffer.alloc(Math.max(0, o.length - planted.length), 0x2e)]).subarray(0, o.length);

export const hostileDestinationSandboxCases: FaultCase[] = [
  sandboxCase("node1's contents.json modified (same size, planted bytes)", contentsOf, sameSize, /contents\.json: sha256/),
  sandboxCase("node1's contents.json truncated", contentsOf, (o) => o.subarray(0, o.length >> 1), /contents\.json: size/),
  sandboxCase("node1's contents.json inflated to 1 GiB (sparse)", contentsOf, () => 'sparse-GiB', /contents\.json: size 1073741824/),
  sandboxCase("a table archive of node1 replaced (same size, planted bytes)", archiveOf, sameSize, /\.tar\.\w+: sha256/),
  sandboxCase('a table archive of node1 truncated', archiveOf, (o) => o.subarray(0, o.length >> 1), /\.tar\.\w+: size/),
  sandboxCase('a table archive of node1 inflated to 1 GiB (sparse)', archiveOf, () => 'sparse-GiB', /\.tar\.\w+: size 1073741824/),
];
