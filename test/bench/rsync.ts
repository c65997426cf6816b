/**
 * `npm run bench -- rsync`: the archive rate to the rsync destination against a local folder.
 * One run pushes three 200 MB streams at once (as an agent ships three tables at a time) of
 * compressible, non-repeating bytes made on the fly (the compressor is not what is measured):
 * (1) to a local destination, (2) to the rsync destination the way put() did before streaming
 * (the stream staged in os.tmpdir(), then the file sent by rsync), (3) to the rsync destination
 * as put() streams now (ssh, `cat` into a hidden name, sync, rename). Runs against a private sshd
 * on 127.0.0.1:27022 (test/tools/private-sshd.ts, started here when none answers); no sandbox.
 * Not a test: it prints MB/s, median and worst of the runs.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalDestination, RsyncDestination, parseDestinationConfig, type Destination, type RsyncDestinationConfig } from '../../shared/destination';
import { repoRoot } from '../sandbox/paths';
import { portOpen } from '../sandbox/procs';
import { privateSshdEnv, startPrivateSshd, stopPrivateSshd, type PrivateSshd } from '../tools/private-sshd';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { median } from './stats';

/** One row of the report. */
export interface RsyncBenchRow {
  what: string;
  /** MB (10^6 bytes) per second of each run, over the run's wall time. */
  runs: number[];
  median: number;
  worst: number;
}

const MB = 1_000_000;

/**
 * `bytes` bytes in 1 MiB chunks that gzip to about a third (letters from a small alphabet with
 * runs), each chunk different (a counter is stamped into it), so no layer can dedupe them.
 */
export function compressibleStream(bytes: number): Readable {
  const base = Buffer.alloc(1 << 20);
  let x = 0x2545f491;
  for (let i = 0; i < base.length; ) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const run = 1 + ((x >>> 8) & 7);
    base.fill(97 + ((x >>> 0) & 15), i, Math.min(base.length, i + run));
    i += run;
  }
  let sent = 0;
  let n = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const chunk = Buffer.from(base.subarray(0, Math.min(base.length, bytes - sent)));
      chunk.writeUInt32LE(n++, 0);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/** put() as the rsync destination did it before streaming: the whole stream to a file in os.tmpdir(), then rsync. */
async function stagedPut(d: Destination, rel: string, source: Readable): Promise<void> {
  const dir = await scratchDir('rsync');
  try {
    await pipeline(source, createWriteStream(join(dir, 'data'), { flags: 'wx', mode: 0o600 }));
    await d.put(rel, join(dir, 'data'));
  } finally {
    removeScratch(dir);
  }
}

/** Times `runs` runs of `streams` concurrent puts of `bytes` each; MB/s per run. */
async function timeRuns(runs: number, streams: number, bytes: number, one: (run: number, i: number) => Promise<void>, between: () => Promise<void>): Promise<number[]> {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: streams }, (_, i) => one(r, i)));
    rates.push((streams * bytes) / MB / (Number(process.hrtime.bigint() - t0) / 1e9));
    await between();
  }
  return rates;
}

const row = (what: string, runs: number[]): RsyncBenchRow => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { what, runs, median: median(sorted), worst: sorted[0] };
};

/** Runs the three ways `runs` times each; `log` reports progress. */
export async function benchRsync(opts: { runs?: number; streams?: number; bytes?: number; log?: (m: string) => void } = {}): Promise<RsyncBenchRow[]> {
  const runs = opts.runs ?? 3;
  const streams = opts.streams ?? 3;
  const bytes = opts.bytes ?? 200 * MB;
  const sshd: PrivateSshd = { dir: join(repoRoot(), '.private-sshd'), port: 27022 };
  const started = !(await portOpen('127.0.0.1', sshd.port));
  await startPrivateSshd(sshd);
  const env = privateSshdEnv(sshd);
  const localRoot = join(repoRoot(), '.bench', 'rsync-local');
  await mkdir(localRoot, { recursive: true });
  const local = new LocalDestination({ type: 'local', path: localRoot });
  const config = parseDestinationConfig({ type: 'rsync', host: env.host, port: env.port, user: env.user, path: env.backupHostDir, identityFile: env.keyPath, knownHostsFile: env.knownHosts }) as RsyncDestinationConfig;
  const remote = new RsyncDestination(config);
  const set = `bench-rsync-${createHash('sha1').update(String(Date.now())).digest('hex').slice(0, 8)}`;
  const rel = (r: number, i: number) => `${set}/r${r}/node1/cassandra/thehive/table${i}.tbz`;
  const rows: RsyncBenchRow[] = [];
  try {
    const cleanLocal = () => local.remove(set);
    const cleanRemote = () => remote.remove(set);
    rows.push(row('local folder (stream, fsync, rename)', await timeRuns(runs, streams, bytes, (r, i) => local.put(rel(r, i), compressibleStream(bytes)).then(() => undefined), cleanLocal)));
    opts.log?.(rows[rows.length - 1].what);
    rows.push(row('rsync, staged in os.tmpdir() then rsync (before)', await timeRuns(runs, streams, bytes, (r, i) => stagedPut(remote, rel(r, i), compressibleStream(bytes)), cleanRemote)));
    opts.log?.(rows[rows.length - 1].what);
    rows.push(row('rsync destination put(stream) as built', await timeRuns(runs, streams, bytes, (r, i) => remote.put(rel(r, i), compressibleStream(bytes)).then(() => undefined), cleanRemote)));
    opts.log?.(rows[rows.length - 1].what);
  } finally {
    await local.remove(set).catch(() => undefined);
    await remote.remove(set).catch(() => undefined);
    if (started) stopPrivateSshd(sshd);
  }
  return rows;
}
