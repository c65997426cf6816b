/**
 * What `tandem status` shows of a restore or drill, built from `<stateDir>/restore.json` and each
 * agent's answer to GetRestoreStatus for its restore id. Pure: no files, no RPCs, the clock passed in.
 */
import type { RestoreStatus, RoleProgress } from '../../shared/generated/tandem/v2/agent';
import { fromWirePhase } from '../../shared/wire/restore';
import { resumeCommand, type ReadRestoreRecord, type RestoreRecord } from './record';

/** One node's answer for the restore, or why there is none. */
export interface RestoreNodeView {
  node: string;
  /** False when the agent did not answer in time (or refused the connection). */
  reachable: boolean;
  /** The phase the node runs or last ran for this restore; null without an answer. */
  phase: string | null;
  /** True while that phase runs on the node. */
  running: boolean;
  /** Once the phase ended on the node: whether it ended well; null while it runs or without an answer. */
  ok: boolean | null;
  roles: RoleProgress[];
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second since the phase started, or null before any byte. */
  rateBytesPerSec: number | null;
  /** Seconds left at that rate while the phase runs, or null when it cannot be told. */
  etaSeconds: number | null;
  /** The phase's error on the node, or why the agent gave no answer. */
  error: string;
}

/** The restore or drill of the record, as status shows it. */
export interface RestoreView {
  kind: RestoreRecord['kind'];
  restoreId: string;
  backupId: string;
  pid: number;
  host: string;
  startedMs: number;
  elapsedMs: number;
  /** running: its process is alive; interrupted: its process is gone before the end; restored or failed: it ended. */
  state: 'running' | 'interrupted' | 'restored' | 'failed';
  /** The phase running or last run; null before the first. */
  phase: string | null;
  /** When each phase started, epoch ms. */
  phases: Record<string, number>;
  /** The command that resumes it (any outcome but restored). */
  resume: string;
  ended: { atMs: number; durationMs: number; reason: string } | null;
  /** One entry per agent while it runs or once interrupted; empty once it ended. */
  nodes: RestoreNodeView[];
}

/** What the status verb read of a restore, for buildRestoreView. */
export interface RestoreStatusInput {
  read: ReadRestoreRecord | null;
  /** Each agent's GetRestoreStatus for the record's restore id: the answer, or the error and whether it reached the agent. */
  answers: { node: string; status?: RestoreStatus; error?: string; reachable?: boolean }[];
  now: number;
}

/** True when status asks the agents about the record's restore: it runs, or it was interrupted (where did each node stop?). */
export function asksAgents(read: ReadRestoreRecord | null): boolean {
  return read !== null && read.record.ended === null;
}

/** Builds the restore's view; null without a record. */
export function buildRestoreView({ read, answers, now }: RestoreStatusInput): RestoreView | null {
  if (!read) return null;
  const r = read.record;
  const state = r.ended ? (r.ended.ok ? 'restored' : 'failed') : read.interrupted ? 'interrupted' : 'running';
  const phases = r.phases as Record<string, number>;
  return {
    kind: r.kind,
    restoreId: r.restoreId,
    backupId: r.backupId,
    pid: r.pid,
    host: r.host,
    startedMs: r.startedMs,
    elapsedMs: Math.max(0, (r.ended?.atMs ?? now) - r.startedMs),
    state,
    phase: r.phase,
    phases,
    resume: resumeCommand(r),
    ended: r.ended && { atMs: r.ended.atMs, durationMs: Math.max(0, r.ended.atMs - r.startedMs), reason: r.ended.reason },
    nodes: asksAgents(read) ? answers.map((a) => nodeView(a, phases, now)) : [],
  };
}

function nodeView(a: RestoreStatusInput['answers'][number], phases: Record<string, number>, now: number): RestoreNodeView {
  const s = a.status;
  if (!s) return { node: a.node, reachable: a.reachable ?? false, phase: null, running: false, ok: null, roles: [], bytesDone: 0, bytesTotal: 0, rateBytesPerSec: null, etaSeconds: null, error: a.error ?? '' };
  const phase = phaseName(s);
  const roles = s.progress.map((p) => ({ ...p }));
  const bytesDone = roles.reduce((n, p) => n + p.bytesDone, 0);
  const bytesTotal = roles.reduce((n, p) => n + p.bytesTotal, 0);
  // The coordinator's clock when it knows the phase's start (no skew against `now`), else the agent's.
  const since = (phase && phases[phase]) || s.startedUnixMs || undefined;
  const until = s.running ? now : s.endedUnixMs || now;
  const seconds = since === undefined ? 0 : (until - since) / 1000;
  const rate = seconds > 0 && bytesDone > 0 ? bytesDone / seconds : null;
  const eta = s.running && rate && bytesTotal > bytesDone ? (bytesTotal - bytesDone) / rate : s.running && rate && bytesTotal ? 0 : null;
  return { node: a.node, reachable: true, phase, running: s.running, ok: s.running ? null : s.ok, roles, bytesDone, bytesTotal, rateBytesPerSec: rate, etaSeconds: eta, error: s.error };
}

/** The answer's phase by name (`load`), or null for one this coordinator does not know. */
function phaseName(s: RestoreStatus): string | null {
  try {
    return fromWirePhase(s.phase);
  } catch {
    return null;
  }
}
