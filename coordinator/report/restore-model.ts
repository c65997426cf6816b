/** A restore's (or a drill's) report: each phase on each node, as the coordinator timed it. */
import { RESTORE_RUN_PHASES } from '../../shared/contract';
import type { Manifest } from '../../shared/manifest';
import type { RestoreOutcome } from '../restore/run';
import { formatDuration } from './format';
import { extent, packLanes, type Bar, type ReportModel, type Row } from './model';

/** What the node's roles said about one phase, in one line. */
function said(outcome: RestoreOutcome, phase: string, node: string): string {
  return (outcome.results[phase]?.[node] ?? []).filter((r) => r.ran).map((r) => `${r.role}: ${r.detail || (r.ok ? 'ok' : 'not ok')}`).join('; ');
}

/** The report of one restore of `manifest`'s set; `kind` names it (restore, drill). */
export function restoreModel(manifest: Manifest, outcome: RestoreOutcome, kind: 'restore' | 'drill' = 'restore'): ReportModel {
  const nodes = [...new Set([...manifest.nodes.map((n) => n.node), ...outcome.timings.map((t) => t.node)])];
  const rows: Row[] = nodes.map((node) => {
    const n = manifest.nodes.find((x) => x.node === node);
    const bars: Bar[] = outcome.timings.filter((t) => t.node === node).map((t) => ({
      kind: t.ok ? t.phase : 'failed',
      label: t.ok ? t.phase : `${t.phase} (failed)`,
      start: t.startedAt,
      end: t.endedAt,
      bytesIn: t.bytes || undefined,
      files: t.files || undefined,
      note: said(outcome, t.phase, node) || undefined,
    }));
    return {
      name: node,
      caption: n ? `${n.hostname} · ${n.roles.join(', ')}` : 'not in the set',
      lanes: packLanes(bars),
      markers: [],
      missing: bars.length ? undefined : `no phase ran on ${node}`,
    };
  });
  // The coordinator's view: each phase from its first request to its last answer (the barrier).
  const phases: Bar[] = RESTORE_RUN_PHASES.flatMap((phase) => {
    const ts = outcome.timings.filter((t) => t.phase === phase);
    if (!ts.length) return [];
    const ok = ts.every((t) => t.ok);
    return [{ kind: ok ? phase : 'failed', label: phase, start: Math.min(...ts.map((t) => t.startedAt)), end: Math.max(...ts.map((t) => t.endedAt)) }];
  });
  const coordinator: Row = { name: 'coordinator', caption: 'phases with barriers', lanes: packLanes(phases), markers: [], missing: phases.length ? undefined : 'no phase ran' };
  const all = [coordinator, ...rows];
  const { start, end } = extent(all);
  const facts: [string, string][] = [
    [kind === 'drill' ? 'drill' : 'restore', outcome.restoreId],
    ['backup set', `${manifest.id} (committed ${manifest.committedAt})`],
    ['outcome', outcome.ok ? 'restored and verified' : outcome.failedPhase ? `stopped in phase ${outcome.failedPhase}` : 'verification found problems'],
    ['duration', formatDuration(outcome.durationMs)],
    ...phases.map((p): [string, string] => [`phase ${p.label}`, formatDuration(p.end - p.start)]),
  ];
  const notes = outcome.problems.slice(0, 20);
  if (outcome.problems.length > 20) notes.push(`… and ${outcome.problems.length - 20} more problems`);
  return { title: `${kind === 'drill' ? 'Drill' : 'Restore'} ${outcome.restoreId} of ${manifest.id}`, facts, start, end, rows: all, cut: null, notes };
}
