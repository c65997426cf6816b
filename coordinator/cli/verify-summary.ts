/** What a restore's verify phase found, for a person: rows, documents, files. */
import { say } from './common';

type VerifyResults = {
  cassandra?: { rows?: Record<string, { actual: number; expected: { rows: number; upTo: number; exact: boolean } | null }> };
  elasticsearch?: { counts?: Record<string, { expected: number | null; actual: number }> };
  files?: { files?: number; bytes?: number; extra?: { count: number; first: string[] } };
};

/** What the verify phase found, in a few lines: rows, documents, files. */
export function printVerifySummary(verify: Record<string, unknown>): void {
  for (const [node, raw] of Object.entries(verify)) {
    const v = (raw ?? {}) as VerifyResults;
    const rows = Object.entries(v.cassandra?.rows ?? {});
    if (rows.length) {
      const total = rows.reduce((n, [, r]) => n + r.actual, 0);
      const inexact = rows.filter(([, r]) => r.expected && !r.expected.exact);
      const unknown = rows.filter(([, r]) => !r.expected);
      say(`${node}: ${rows.length} tables, ${total} rows` +
        (inexact.length || unknown.length ? '' : ', every table as at the cut'));
      for (const [t, r] of inexact) say(`  ${t}: ${r.actual} rows; the replicas held ${r.expected!.rows} to ${r.expected!.upTo} at the cut (a write was reaching them)`);
      if (unknown.length) say(`  not counted at backup time: ${unknown.map(([t]) => t).join(', ')}`);
    }
    const docs = Object.entries(v.elasticsearch?.counts ?? {});
    if (docs.length) say(`${node}: ${docs.map(([i, c]) => `${i} ${c.actual} documents`).join(', ')}`);
    if (v.files?.files !== undefined) {
      say(`${node}: ${v.files.files} files checked` +
        (v.files.extra?.count ? `; ${v.files.extra.count} files the backup does not hold are still there (e.g. ${v.files.extra.first.slice(0, 3).join(', ')}): restore with --files-clean to remove them` : ''));
    }
  }
}
