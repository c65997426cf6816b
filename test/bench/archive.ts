/**
 * Micro-benchmark of snapshot archiving: the vendor's `tar cjf` (single-threaded bzip2) against
 * createArchive with parallel bzip2 and multithreaded xz, on the same folder. Not a test: no assertions.
 */
import { readdir, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { createArchive, bzip2Argv } from '../../agent/archive';
import { removeScratch, scratchDir } from '../helpers/scratch';

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

/** Archives dir with each tool in turn (sequentially, into a temp folder removed afterwards). */
export async function benchArchive(dir: string): Promise<BenchResult[]> {
  const threads = cpus().length;
  const bytes = await treeBytes(dir);
  const work = await scratchDir('bench-archive');
  const results: BenchResult[] = [];
  const time = async (tool: string, out: string, run: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    await run();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    results.push({ tool, seconds, mbPerSec: bytes / 1e6 / seconds, bytesOut: (await stat(out)).size });
  };
  try {
    const vendor = join(work, 'vendor.tbz');
    await time('tar cjf (bzip2, 1 thread)', vendor, () => runCommand(['tar', 'cjf', vendor, '-C', dir, '.']));
    const bz = join(work, 'tandem.tbz');
    const program = (await bzip2Argv('compress', threads))[0];
    await time(`createArchive bzip2 (${program}, ${threads} threads)`, bz, () =>
      createArchive({ sourceDir: dir, output: bz, compression: 'bzip2', threads }));
    const xz = join(work, 'tandem.txz');
    await time(`createArchive xz (lzma-native, ${threads} threads)`, xz, () =>
      createArchive({ sourceDir: dir, output: xz, compression: 'xz', threads }));
  } finally {
    removeScratch(work);
  }
  return results;
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/test/bench/archive.js <folder>');
    process.exit(2);
  }
  benchArchive(dir).then((r) => console.table(r), (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
