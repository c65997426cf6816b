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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../shared/manifest';
import { manifestPath } from '../../shared/destination/layout';
import { storedPath } from '../../shared/encrypted-set';
import { runCli } from '../helpers/fleet';
import { observe, type FaultCase, type Observation } from './case';
import { lastLine, refusedProblem, RSS_LIMIT } from './destination-cli-case';
import { faultFleet } from './sandbox-fleet';
import { scratchRestore, type Damage } from './sandbox-restore';

const SCRATCH = { keyspace: 'thehive_hostile', indexPrefix: 'hostile-' };

/** A Cassandra file of a fresh complete set, chosen from its manifest. */
type Pick = (m: Manifest) => string;
const contentsOf: Pick = (m) => m.nodes[0].parts.cassandra!.contents.path;
const archiveOf: Pick = (m) => m.nodes[0].parts.cassandra!.tables[0].path;

function sandboxCase(name: string, pick: Pick, change: Damage['change'], why: RegExp): FaultCase {
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
      try {
        const m = JSON.parse(readFileSync(join(f.fleet.destDir, manifestPath(id)), 'utf8')) as Manifest;
        // Of an encrypted set, the stored file is the part's name + .age: its ciphertext is what is changed.
        const file = join(f.fleet.destDir, m.options.setRecipient ? storedPath(pick(m)) : pick(m));
        const s = await scratchRestore(f, id, SCRATCH, { damage: { file, change }, rssBound: true });
        const problems = [refusedProblem('the restore', s.run, why), ...s.problems].filter(Boolean);
        return { ...observe(`restore: exit ${s.run.code} (${lastLine(s.run).slice(0, 160)})`, problems, s.leftovers), measured: s.measured };
      } finally {
        await runCli(['delete', id, '--config', f.fleet.fleetFile]);
      }
    },
  };
}

/** The planted bytes, padded or cut to `size`. */
const sameSize = (o: Buffer, planted: Buffer) => Buffer.concat([planted, Buffer.alloc(Math.max(0, o.length - planted.length), 0x2e)]).subarray(0, o.length);

export const hostileDestinationSandboxCases: FaultCase[] = [
  sandboxCase("node1's contents.json modified (same size, planted bytes)", contentsOf, sameSize, /contents\.json(\.age)?: sha256/),
  sandboxCase("node1's contents.json truncated", contentsOf, (o) => o.subarray(0, o.length >> 1), /contents\.json(\.age)?: size/),
  sandboxCase("node1's contents.json inflated to 1 GiB (sparse)", contentsOf, () => 'sparse-GiB', /contents\.json(\.age)?: size 1073741824/),
  sandboxCase("a table archive of node1 replaced (same size, planted bytes)", archiveOf, sameSize, /\.t(ar|bz|xz)(\.age)?: sha256/),
  sandboxCase('a table archive of node1 truncated', archiveOf, (o) => o.subarray(0, o.length >> 1), /\.t(ar|bz|xz)(\.age)?: size/),
  sandboxCase('a table archive of node1 inflated to 1 GiB (sparse)', archiveOf, () => 'sparse-GiB', /\.t(ar|bz|xz)(\.age)?: size 1073741824/),
];
