/**
 * Micro-benchmark of snapshot archiving: the vendor's `tar cjf` (single-threaded bzip2) and
 * `tar -I lbzip2` against createArchive with parallel bzip2 and multithreaded xz, on the same
 * folder. Not a test: no assertions.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { createArchive, bzip2Argv } from '../../agent/archive';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { roundOrder } from './stats';

/** One timed run; mbPerSec is source megabytes (10^6 bytes of file content) per second. */
export interface BenchResult {
  tool: string;
  seconds: number;
  mbPerSec: number;
  /** Size of the archive produced, in bytes. */
  bytesOut: number;
}

/** Total size in bytes of the regular files under dir. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

/** One tool's runs. */
export interface ArchiveRuns {
  tool: string;
  results: BenchResult[];
}

/**
 * Archives dir with each tool, `rounds` times, in an order rotated from round to round (the first
 * to read the folder reads it from disk, the others from the page cache). The vendor's `tar cjf`
 * is single-threaded bzip2; `tar -I lbzip2` is what an operator gets by changing one flag of it,
 * so it is the fair floor for tandem's parallel bzip2.
 */
export async function benchArchive(dir: string, rounds = 3): Promise<ArchiveRuns[]> {
  const threads = cpus().length;
  const bytes = await treeBytes(dir);
  const work = await scratchDir('bench-archive');
  const program = (await bzip2Argv('compress', threads))[0];
  const ways: { tool: string; out: string; run: (out: string) => Promise<unknown> }[] = [
    { tool: 'tar cjf (bzip2, 1 thread)', out: 'vendor.tbz', run: (out) => runCommand(['tar', 'cjf', out, '-C', dir, '.']) },
    { tool: `tar -I lbzip2 -cf (${threads} threads)`, out: 'lbzip2.tbz', run: (out) => runCommand(['tar', '-I', 'lbzip2', '-cf', out, '-C', dir, '.']) },
    { tool: `createArchive bzip2 (${program}, ${threads} threads)`, out: 'tandem.tbz', run: (out) => createArchive({ sourceDir: dir, output: out, compression: 'bzip2', threads }) },
    { tool: `createArchive xz (lzma-native, ${threads} threads)`, out: 'tandem.txz', run: (out) => createArchive({ sourceDir: dir, output: out, compression: 'xz', threads }) },
  ];
  const runs = new Map(ways.map((w) => [w.tool, [] as BenchResult[]]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const way of roundOrder(ways, round)) {
        const out = join(work, way.out);
        await rm(out, { force: true });
        const t0 = process.hrtime.bigint();
        await way.run(out);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        runs.get(way.tool)!.push({ tool: way.tool, seconds, mbPerSec: bytes / 1e6 / seconds, bytesOut: (await stat(out)).size });
      }
    }
  } finally {
    removeScratch(work);
  }
  return [...runs].map(([tool, results]) => ({ tool, results }));
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/test/bench/archive.js <folder>');
    process.exit(2);
  }
  benchArchive(dir).then((r) => console.table(r.flatMap((x) => x.results)), (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
