/**
 * Whether a copy of an active commitlog segment's durable prefix, taken the way the agent's
 * capture takes it (bytes [0, offset) of the segment's hard link in cdc_raw, offset from its
 * _cdc.idx, while Cassandra goes on writing after it), replays. Found on a node of its own
 * (127.0.0.6, JMX 7600, cluster tandem-cdc, in a scratch folder; only the sandbox's installed
 * Cassandra is used):
 *
 *   1. start the node with cdc_enabled and periodic sync every 10 s, make a table WITH cdc = true, flush;
 *   2. write batch A; wait for the sync after it (the _cdc.idx rewritten); copy the prefix (copy 1);
 *   3. write batch B; wait for its sync; copy the prefix again (copy 2); kill -9;
 *   4. with the commitlog and cdc_raw wiped (and the data folder as it was at the kill), start
 *      with restore_directories = a copy and a restore_point_in_time, and count each batch:
 *      copy 1 far in the future, copy 2 at an instant T between the batches, copy 2 far in the future.
 *
 * A run that Cassandra refuses (a commitlog replay error) is tried again with
 * -Dcassandra.commitlog.ignorereplayerrors=true, and both are reported. Usage: `npm run build &&
 * node dist/test/tools/cdc-probe.js [--keep]` (needs `npm run sandbox -- up` once, for the install).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { parseCdcIndex, segmentOfIndex } from '../../agent/roles/cassandra/capture/segment';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { connectProbeNode, installedCassandra, kill9, probeNodetool, probeYaml, restorePoint, startProbeNode, type ProbeNode } from './probe-node';

const NODE: ProbeNode = { host: '127.0.0.6', jmxPort: 7600, cluster: 'tandem-cdc' };
const ROWS = 50;
const FAR_FUTURE = Date.UTC(2099, 0, 1);
const IGNORE_REPLAY_ERRORS = '-Dcassandra.commitlog.ignorereplayerrors=true';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The segments of cdc_raw that have a _cdc.idx, with its offset and the file's size. */
function cdcSegments(cdcRaw: string): { segment: string; durable: number; completed: boolean; size: number; idxMtimeMs: number }[] {
  const out = [];
  // By id: the active segment last.
  const byId = (f: string) => BigInt(/-(\d+)_cdc\.idx$/.exec(f)?.[1] ?? '0');
  for (const f of readdirSync(cdcRaw).filter((x) => segmentOfIndex(x)).sort((x, y) => (byId(x) < byId(y) ? -1 : byId(x) > byId(y) ? 1 : 0))) {
    const segment = segmentOfIndex(f);
    if (!segment) continue;
    const idx = parseCdcIndex(readFileSync(join(cdcRaw, f), 'utf8'));
    if (!idx) continue;
    out.push({ segment, ...idx, size: statSync(join(cdcRaw, segment)).size, idxMtimeMs: statSync(join(cdcRaw, f)).mtimeMs });
  }
  return out;
}

/** Waits for a commitlog sync after `since` (the newest segment's _cdc.idx rewritten after it); returns cdc_raw then. */
async function syncAfter(cdcRaw: string, since: number): Promise<ReturnType<typeof cdcSegments>> {
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(500)) {
    const s = cdcSegments(cdcRaw);
    if (s.length && s[s.length - 1].idxMtimeMs > since) return s;
  }
  throw new Error('no _cdc.idx was rewritten within 60 s of the writes: is cdc_enabled on, and the table WITH cdc = true?');
}

/** Copies bytes [0, durable) of each segment into `to`, under the segment's name, as the capture stores them. */
function copyPrefixes(cdcRaw: string, segments: ReturnType<typeof cdcSegments>, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const s of segments) {
    const buf = Buffer.alloc(s.durable);
    const fd = openSync(join(cdcRaw, s.segment), 'r');
    try {
      for (let n = 0; n < buf.length; ) n += readSync(fd, buf, n, buf.length - n, n);
    } finally {
      closeSync(fd);
    }
    writeFileSync(join(to, s.segment), buf);
  }
}

async function writeBatch(c: import('cassandra-driver').Client, batch: string, from: number): Promise<void> {
  for (let k = from; k < from + ROWS; k++) await c.execute('INSERT INTO probe.t (k, grp) VALUES (?, ?)', [k, batch], { prepare: true });
}

/** What one start from a copy found. */
interface RunResult {
  a: number | null;
  b: number | null;
  replay: string;
}

/** What Cassandra logged about the commitlog replay in this start (system.log past `from`): mutations replayed, and its first warning or error. */
function replayLog(dir: string, from: number): { replayed: string | null; problem: string | null } {
  const lines = readFileSync(join(dir, 'logs', 'system.log'), 'utf8').slice(from).split('\n');
  const replayed = lines.map((l) => /Log replay complete, (\d+) replayed mutations/.exec(l)?.[1]).find((x) => x !== undefined) ?? null;
  const problem = lines.find((l) => /^(WARN|ERROR)/.test(l) && /commit ?log|replay|CommitLogReplayException|mutation/i.test(l)) ?? null;
  return { replayed, problem: problem && problem.replace(/^(\w+)\s+\[[^\]]*\]\s+\S+ \S+\s+/, '$1 ').slice(0, 200) };
}

/** The replay column: what the log says. */
function replayCell(dir: string, from: number, refused: string | null): string {
  const r = replayLog(dir, from);
  const what = refused ? `refused (${refused})` : r.replayed !== null ? `replayed (${r.replayed} mutations)` : 'no replay logged';
  return `${what}${r.problem ? `; logged: ${r.problem.replace(/\|/g, '/')}` : '; no commitlog warning or error logged'}`;
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  // The scratch folder's exit hook keeps it only so.
  if (keep) process.env.TANDEM_KEEP_SCRATCH = '1';
  const dir = await scratchDir('cdc-probe');
  for (const d of ['conf', 'data', 'commitlog', 'cdc_raw', 'hints', 'saved_caches', 'logs', 'tools', 'capture1', 'capture2']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'cassandra.yaml'), probeYaml(NODE, dir, 'cdc_enabled: true\ncdc_total_space: 256MiB\ncdc_block_writes: true\n'));
  const props = join(dir, 'conf', 'commitlog_archiving.properties');
  const nodetool = probeNodetool(NODE, dir);
  let node: ChildProcess | null = null;
  try {
    node = startProbeNode(NODE, dir);
    let c = await connectProbeNode(NODE, node);
    await c.execute("CREATE KEYSPACE probe WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    await c.execute('CREATE TABLE probe.t (k int PRIMARY KEY, grp text) WITH cdc = true');
    // The schema in SSTables: the commitlog is wiped before each restore.
    await runCommand([...nodetool, 'flush'], { timeoutMs: 120_000 });
    await writeBatch(c, 'A', 0);
    const aWritten = Date.now();
    const atA = await syncAfter(join(dir, 'cdc_raw'), aWritten);
    copyPrefixes(join(dir, 'cdc_raw'), atA, join(dir, 'capture1'));
    await sleep(2000);
    const t = Math.floor((aWritten + Date.now()) / 2);
    await sleep(2000);
    await writeBatch(c, 'B', 1000);
    const atB = await syncAfter(join(dir, 'cdc_raw'), Date.now());
    copyPrefixes(join(dir, 'cdc_raw'), atB, join(dir, 'capture2'));
    await c.shutdown();
    await kill9(node);
    // The data folder as the kill left it (schema, no probe rows): each start begins from it.
    cpSync(join(dir, 'data'), join(dir, 'data.at-kill'), { recursive: true });

    const run = async (capture: string, at: number, flags: string[]): Promise<RunResult> => {
      for (const d of ['data', 'commitlog', 'cdc_raw', 'hints', 'saved_caches']) rmSync(join(dir, d), { recursive: true, force: true });
      cpSync(join(dir, 'data.at-kill'), join(dir, 'data'), { recursive: true });
      for (const d of ['commitlog', 'cdc_raw', 'hints', 'saved_caches']) mkdirSync(join(dir, d));
      writeFileSync(props, `restore_command=/bin/cp -f %from %to\nrestore_directories=${join(dir, capture)}\nrestore_point_in_time=${restorePoint(at)}\n`);
      const logFrom = statSync(join(dir, 'logs', 'system.log')).size;
      node = startProbeNode(NODE, dir, flags);
      try {
        c = await connectProbeNode(NODE, node);
      } catch (err) {
        return { a: null, b: null, replay: replayCell(dir, logFrom, (err as Error).message) };
      }
      const rows = (await c.execute('SELECT grp FROM probe.t')).rows.map((r) => r.grp as string);
      await c.shutdown();
      await kill9(node);
      return { a: rows.filter((b) => b === 'A').length, b: rows.filter((b) => b === 'B').length, replay: replayCell(dir, logFrom, null) };
    };

    const segLine = (s: ReturnType<typeof cdcSegments>) => s.map((x) => `${x.segment} [0, ${x.durable}) of ${x.size} bytes`).join(', ');
    console.log(`Cassandra ${installedCassandra()}, commitlog_sync periodic 10 s; ${new Date().toISOString()}`);
    console.log(`copy 1 (after batch A): ${segLine(atA)}; copy 2 (after batch B): ${segLine(atB)}; T = ${restorePoint(t)}`);
    console.log('| restored from | restore_point_in_time | batch A (50 rows, written before copy 1) | batch B (50 rows, written after copy 1) | replay |');
    console.log('|---|---|---|---|---|');
    const cases: [string, string, number, string][] = [
      ['copy 1 (prefix after A)', 'capture1', FAR_FUTURE, 'far future'],
      ['copy 2 (prefix after B)', 'capture2', t, 'T, between A and B'],
      ['copy 2 (prefix after B)', 'capture2', FAR_FUTURE, 'far future'],
    ];
    for (const [what, capture, at, atName] of cases) {
      let r = await run(capture, at, []);
      const show = (x: number | null) => (x === null ? 'no answer' : `${x} found`);
      console.log(`| ${what} | ${atName} | ${show(r.a)} | ${show(r.b)} | ${r.replay} |`);
      if (r.a === null) {
        r = await run(capture, at, [IGNORE_REPLAY_ERRORS]);
        console.log(`| ${what}, with ${IGNORE_REPLAY_ERRORS} | ${atName} | ${show(r.a)} | ${show(r.b)} | ${r.replay} |`);
      }
    }
  } finally {
    if (node) await kill9(node);
    if (!keep) removeScratch(dir);
    else console.log(`kept ${dir}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
