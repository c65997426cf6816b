/**
 * `npm run bench`: the benchmarks, side by side in one run on the sandbox's data. Prints a
 * report; asserts nothing. Bring the sandbox up and seed it first (`npm run sandbox -- seed --size 1GB`).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readSandboxEnv } from '../sandbox';
import { benchArchive } from './archive';
import { benchBackup } from './backup';
import { benchRestore } from './restore';

async function main(): Promise<void> {
  const env = readSandboxEnv();
  const only = process.argv[2];
  if (!only || only === 'backup') {
    console.log('cluster snapshot: spread between the nodes\' snapshot instants, and wall time');
    for (const r of await benchBackup((row) => console.log(`  (done) ${row.method}`))) console.log(`  ${r.method.padEnd(30)} spread ${String(r.spreadMs).padStart(6)} ms   wall ${r.wallSeconds.toFixed(1).padStart(7)} s`);
  }
  if (!only || only === 'restore') {
    console.log('restore of one backup set into a scratch keyspace');
    for (const r of await benchRestore()) console.log(`  ${r.method.padEnd(56)} wall ${r.wallSeconds.toFixed(1).padStart(7)} s`);
  }
  if (!only || only === 'archive') {
    // The largest table of node1, archived from its live folder (the same bytes a snapshot holds).
    const ks = join(env.cassandra.nodes[0].dataDir, 'thehive');
    // The live edgestore folder: the one holding SSTables (a recreated keyspace leaves old, empty ones).
    const candidates = (await readdir(ks)).filter((d) => d.startsWith('edgestore-'));
    const withData = await Promise.all(candidates.map(async (d) => ((await readdir(join(ks, d))).some((f) => f.endsWith('-Data.db')) ? d : null)));
    const edgestore = withData.find((d) => d !== null);
    if (!edgestore) throw new Error(`no edgestore SSTables under ${ks}: seed the sandbox first`);
    console.log(`archive throughput on ${join(ks, edgestore)}`);
    for (const r of await benchArchive(join(ks, edgestore))) {
      console.log(`  ${r.tool.padEnd(34)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.mbPerSec.toFixed(1).padStart(7)} MB/s  ${r.bytesOut} bytes`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
