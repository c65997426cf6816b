/**
 * What `tandem status` shows, built from what it read: the backup lock, the journal and each
 * agent's answer to GetStatus for the running id. Pure: no files, no RPCs, the clock passed in.
 */
import { AgentState, type BackupStatus, type RoleProgress } from '../../shared/generated/tandem/v2/agent';
import { FINISHED_STEPS, type JournalEntry } from './journal';
import type { LockHolder } from './lock';
import type { RestoreView } from '../restore/status';

/** One role's progress on one node, as the agent reports it. */
export type RoleView = RoleProgress;

/** One node's answer for the running backup, or why there is none. */
export interface NodeView {
  node: string;
  /** False when the agent did not answer in time (or refused the connection). */
  reachable: boolean;
  /** The agent's state for the running id in lower case (`shipping`, `done`...), or null without an answer. */
  state: string | null;
  roles: RoleView[];
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second since the run reached "shipping" (or since the agent's cut), or null before. */
  rateBytesPerSec: number | null;
  /** Seconds left at that rate, or null when it cannot be told. */
  etaSeconds: number | null;
  /** The agent's error for this backup, or why it gave no answer. */
  error: string;
}

/** A run as the journal has it. */
export interface RunView {
  backupId: string;
  step: string;
  startedMs: number;
  pid: number;
  host: string;
  reason: string;
  /** When each step was reached, epoch ms. */
  steps: Record<string, number>;
}

/** Everything `tandem status` prints. */
export interface StatusView {
  /** The lock's holder when its process is alive: a backup, or `tandem recover` (backupId "recover", no journal entry). */
  running: (LockHolder & { elapsedMs: number; step: string | null; steps: Record<string, number> }) | null;
  /** A lock whose process is gone (the next backup takes it over). */
  staleLock: LockHolder | null;
  /** Runs that did not finish and are not running: what `tandem recover` would handle. */
  unfinished: RunView[];
  /** The newest run that ended, with its outcome (complete, aborted, failed, abandoned) and duration. */
  last: (RunView & { outcome: string; endedMs: number; durationMs: number }) | null;
  /** One entry per agent of the fleet while a backup runs; empty otherwise. */
  nodes: NodeView[];
  /** The restore or drill running, interrupted, or ended last (coordinator/restore/status.ts); null when none was recorded. */
  restore: RestoreView | null;
}

/** What the status verb read, for buildStatusView. */
export interface StatusInput {
  lock: { holder: LockHolder; stale: boolean } | null;
  /** Journal entries, oldest first. */
  entries: JournalEntry[];
  /** Each agent's GetStatus for the running id: the answer, or the error and whether it reached the agent. */
  answers: { node: string; status?: BackupStatus; error?: string; reachable?: boolean }[];
  now: number;
  /** The restore's view, built apart (it has its own record and RPC). */
  restore?: RestoreView | null;
}

const runView = (e: JournalEntry): RunView => ({ backupId: e.backupId, step: e.step, startedMs: e.startedMs, pid: e.pid, host: e.host, reason: e.reason, steps: e.steps });

/** Builds the status view from the lock, the journal and the agents' answers. */
export function buildStatusView({ lock, entries, answers, now, restore = null }: StatusInput): StatusView {
  const live = lock && !lock.stale ? lock.holder : null;
  const current = live ? entries.find((e) => e.backupId === live.backupId) : undefined;
  const running = live && { ...live, elapsedMs: Math.max(0, now - Date.parse(live.startedAt)), step: current?.step ?? null, steps: current?.steps ?? {} };
  const unfinished = entries.filter((e) => !FINISHED_STEPS.has(e.step) && e !== current).map(runView);
  const ended = entries.filter((e) => FINISHED_STEPS.has(e.step)).sort((a, b) => endOf(a) - endOf(b)).at(-1);
  const last = ended ? { ...runView(ended), outcome: ended.step, endedMs: endOf(ended), durationMs: Math.max(0, endOf(ended) - ended.startedMs) } : null;
  const since = current?.steps.shipping ?? current?.steps.committing;
  const nodes = running ? answers.map((a) => nodeView(a, since, now)) : [];
  return { running, staleLock: lock?.stale ? lock.holder : null, unfinished, last, nodes, restore };
}

/** When a finished run ended: the time its last step was reached. */
function endOf(e: JournalEntry): number {
  return e.steps[e.step] ?? Date.parse(e.updatedAt);
}

function nodeView(a: StatusInput['answers'][number], journalSince: number | undefined, now: number): NodeView {
  const s = a.status;
  if (!s) return { node: a.node, reachable: a.reachable ?? false, state: null, roles: [], bytesDone: 0, bytesTotal: 0, rateBytesPerSec: null, etaSeconds: null, error: a.error ?? '' };
  const roles = s.progress.map((r) => ({ role: r.role, phase: r.phase, bytesDone: r.bytesDone, bytesTotal: r.bytesTotal, filesDone: r.filesDone, filesTotal: r.filesTotal }));
  const bytesDone = roles.reduce((n, r) => n + r.bytesDone, 0);
  const bytesTotal = roles.reduce((n, r) => n + r.bytesTotal, 0);
  const since = journalSince ?? (s.committedUnixMs || undefined);
  const seconds = since === undefined ? 0 : (now - since) / 1000;
  const rate = seconds > 0 && bytesDone > 0 ? bytesDone / seconds : null;
  const eta = rate && bytesTotal > bytesDone ? (bytesTotal - bytesDone) / rate : rate && bytesTotal ? 0 : null;
  return { node: a.node, reachable: true, state: stateName(s.state), roles, bytesDone, bytesTotal, rateBytesPerSec: rate, etaSeconds: eta, error: s.error };
}

/** An agent state's name in lower case: `shipping`. */
export function stateName(state: AgentState): string {
  return (AgentState[state] ?? String(state)).toLowerCase();
}
