/**
 * What a restored table should hold, from the row counts each node recorded at the cut. Each node
 * counted its rows per range of its datacenter's ring; the replicas of a range should agree. When
 * they all do, the restored table must hold exactly the sum over ranges. When they do not (a
 * write or delete was reaching the replicas at the cut, or the replicas were not repaired),
 * the restored count depends on how the replicas' data merge, and only bounds can be given.
 */
import type { TableRowCount } from './row-count';

/** The expectation for one table. */
export interface ExpectedRows {
  /** Rows the restored table must hold when `exact`; otherwise the replicas' smallest view. */
  rows: number;
  /** The replicas' largest view (equal to `rows` when exact). */
  upTo: number;
  exact: boolean;
  /** Ranges whose replicas held different row counts at the cut. */
  disagreeingRanges: number;
}

/** Expectation for one table from every node's count of it; null when the counts cannot give one. */
export function expectedRows(counts: readonly TableRowCount[]): ExpectedRows | null {
  if (!counts.length || counts.some((c) => c.ranges === null)) return null;
  const byDc = new Map<string, TableRowCount[]>();
  for (const c of counts) byDc.set(c.datacenter, [...(byDc.get(c.datacenter) ?? []), c]);
  const perDc = [...byDc.values()].map((dc) => {
    const ranges = new Map<string, number[]>();
    // A range a node holds no row of is a view only when the node is sure to replicate it.
    for (const c of dc) for (const [end, n] of Object.entries(c.ranges!)) if (n > 0 || c.replicatesAll) ranges.set(end, [...(ranges.get(end) ?? []), n]);
    let low = 0;
    let high = 0;
    let disagreeing = 0;
    for (const views of ranges.values()) {
      const lo = Math.min(...views);
      const hi = Math.max(...views);
      low += lo;
      high += hi;
      if (lo !== hi) disagreeing++;
    }
    return { low, high, disagreeing };
  });
  const low = Math.min(...perDc.map((d) => d.low));
  const high = Math.max(...perDc.map((d) => d.high));
  const disagreeingRanges = perDc.reduce((n, d) => n + d.disagreeing, 0);
  return { rows: low, upTo: high, exact: low === high && disagreeingRanges === 0, disagreeingRanges };
}

/** The verdict on one restored table: null when it is as expected, else why not. */
export function rowCountProblem(table: string, actual: number, e: ExpectedRows | null): string | null {
  if (!e?.exact || actual === e.rows) return null;
  return `${table}: ${actual} rows after the restore, ${e.rows} at the backup's cut`;
}
