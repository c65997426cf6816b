/**
 * Rows per table, counted offline from SSTables by Cassandra's own classes (java/RowCounter.java,
 * run in the agent's warm helper JVM):
 * at backup time from the snapshot, so the manifest records what each node held at the cut, per
 * range of its datacenter's ring, and a restore can be checked against it.
 */
import { TandemError } from '../../../shared/errors';

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

/** Counts one table: its SSTable folders, the instant in seconds, the ring's tokens; RowCounter's line. */
export type TableCounter = (folders: readonly string[], atSeconds: number, tokens: readonly string[] | null) => Promise<string>;

/** Counts the rows of each group of SSTable folders (one group = one table; several folders of a group are merged). */
export async function countRows(
  counter: TableCounter,
  groups: readonly (readonly string[])[],
  opts: { at: number; datacenter: string; ringTokens: readonly string[] | null; signal?: AbortSignal },
): Promise<TableRowCount[]> {
  const tokens = opts.ringTokens ? murmur3Tokens(opts.ringTokens) : null;
  const out: TableRowCount[] = [];
  for (const g of groups) {
    opts.signal?.throwIfAborted();
    out.push(parseCountLine(await counter(g, opts.at, tokens), opts.datacenter, opts.at));
  }
  return out;
}
