/**
 * Rows per table, counted offline from SSTables by Cassandra's own classes (java/RowCounter.java):
 * at backup time from the snapshot, so the manifest records what each node held at the cut, per
 * range of its datacenter's ring, and a restore can be checked against it.
 */
import { TandemError } from '../../../shared/errors';
import { runCommand, type CommandRunner } from '../../../shared/exec';
import type { CassandraSettings } from './config';
import { CASSANDRA_JDK17_FLAGS } from './jvm';
import { javaSource } from './trigger';

/** What one node held of one table at an instant: the manifest's record of it (shared/parts/cassandra.ts). */
export type { TableRowCount } from '../../../shared/parts/cassandra';
import type { TableRowCount } from '../../../shared/parts/cassandra';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Ring tokens usable for ranges: Murmur3 (64-bit) tokens only; null otherwise. */
export function murmur3Tokens(tokens: readonly string[]): string[] | null {
  if (!tokens.length || !tokens.every((t) => /^-?\d{1,20}$/.test(t) && BigInt(t) >= INT64_MIN && BigInt(t) <= INT64_MAX)) return null;
  return [...new Set(tokens)];
}

/** Parses one output line of RowCounter. */
export function parseCountLine(line: string, datacenter: string, at: number): TableRowCount {
  const m = /^ROWS (\d+) (\d+) (\S+)$/.exec(line);
  if (!m) throw new TandemError(`row counter: ${line.startsWith('ERROR ') ? line.slice(6) : `unexpected output ${JSON.stringify(line.slice(0, 200))}`}`);
  let ranges: Record<string, number> | null = null;
  if (m[3] !== '-') {
    ranges = {};
    for (const kv of m[3].split(',')) {
      const [end, n] = kv.split('=');
      ranges[end] = Number(n);
    }
  }
  return { rows: Number(m[1]), partitions: Number(m[2]), ranges, datacenter, at };
}

/**
 * Counts the rows of each group of SSTable folders (one group = one table; several folders of a
 * group are merged). One JVM for all groups, run through opts.run (default runCommand).
 */
export async function countRows(
  s: CassandraSettings,
  groups: readonly (readonly string[])[],
  opts: { at: number; datacenter: string; ringTokens: readonly string[] | null; signal?: AbortSignal; run?: CommandRunner },
): Promise<TableRowCount[]> {
  if (!groups.length) return [];
  for (const g of groups) for (const d of g) if (d.includes(':')) throw new TandemError(`cannot count rows under ${d}: the path holds a ':'`);
  const tokens = opts.ringTokens ? murmur3Tokens(opts.ringTokens) : null;
  const argv = [
    s.java, '-Xmx512m', '-XX:+UseSerialGC', ...CASSANDRA_JDK17_FLAGS, '-cp', s.classpath,
    javaSource('RowCounter'), String(opts.at), tokens ? tokens.join(',') : '-', ...groups.map((g) => g.join(':')),
  ];
  const { stdout } = await (opts.run ?? runCommand)(argv, { signal: opts.signal, timeoutMs: 6 * 3_600_000 });
  const lines = stdout.split('\n').filter((l) => /^(ROWS|ERROR) /.test(l));
  if (lines.length !== groups.length) throw new TandemError(`row counter printed ${lines.length} results for ${groups.length} tables`);
  return lines.map((l) => parseCountLine(l, opts.datacenter, opts.at));
}
