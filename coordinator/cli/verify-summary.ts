/** What a restore's verify and load phases found, for a person: rows, documents, files, notes. */
import type { PhaseReport } from '../../shared/generated/tandem/v2/agent';
import { say } from './common';

/** What the verify phase found, in a few lines: rows, documents, files. */
export function printVerifySummary(verify: Record<string, PhaseReport[]>): void {
  for (const [node, reports] of Object.entries(verify)) {
    for (const r of reports) {
      if (r.tables.length) {
        const total = r.tables.reduce((n, t) => n + t.actual, 0);
        const inexact = r.tables.filter((t) => t.counted && !t.exact);
        const unknown = r.tables.filter((t) => !t.counted);
        say(`${node}: ${r.tables.length} tables, ${total} rows` + (inexact.length || unknown.length ? '' : ', every table as at the cut'));
        for (const t of inexact) say(`  ${t.table}: ${t.actual} rows; the replicas held ${t.rows} to ${t.upTo} at the cut (a write was reaching them)`);
        if (unknown.length) say(`  not counted at backup time: ${unknown.map((t) => t.table).join(', ')}`);
      }
      if (r.indices.length) say(`${node}: ${r.indices.map((i) => `${i.index} ${i.actual} documents`).join(', ')}`);
      if (r.files) {
        const f = r.files;
        say(`${node}: ${f.files} files checked` +
          (f.extraCount ? `; ${f.extraCount} files the backup does not hold are still there (e.g. ${f.extraFirst.slice(0, 3).join(', ')}): restore with --files-clean to remove them` : ''));
      }
      if (r.detail && !r.tables.length && !r.files) say(`${node} ${r.role}: ${r.detail}`);
    }
  }
}

/** What the load phase said about Elasticsearch: aliases moved, TheHive's index to rebuild. */
export function printLoadNotes(load: Record<string, PhaseReport[]>): void {
  for (const [node, reports] of Object.entries(load)) {
    for (const r of reports) if (r.role === 'elasticsearch' && r.detail) say(`${node}: ${r.detail}`);
  }
}
