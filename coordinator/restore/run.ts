/**
 * Runs a restore plan phase by phase. Each phase runs on every agent and must succeed on all of
 * them before the next starts (a barrier); the first failure stops the restore where it is, and
 * running it again with the same restore id resumes it, every phase being idempotent.
 */
import { BETWEEN_PHASES_MS, RESTORE_RUN_PHASES } from '../../shared/contract';
import { errorMessage } from '../../shared/errors';
import type { PhaseReport, RoleProgress } from '../../shared/generated/tandem/v2/agent';
import type { Manifest } from '../../shared/manifest';
import { toWireDestination } from '../../shared/wire/destination';
import { toWirePhase, toWireRestoreOptions } from '../../shared/wire/restore';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import type { RestorePlan } from './plan';

/** Per phase, per node: what each role reported. */
export type PhaseResults = Record<string, Record<string, PhaseReport[]>>;

/** One phase on one node, by the coordinator's clock: from the request to its answer. */
export interface RestoreTiming {
  phase: RestoreRunPhase;
  node: string;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** The most bytes and files the node's roles reported done in the phase (its progress). */
  bytes: number;
  files: number;
}

/** What a restore did. */
export interface RestoreOutcome {
  restoreId: string;
  backupId: string;
  ok: boolean;
  /** The phase that failed, if any. */
  failedPhase: string | null;
  problems: string[];
  /** Per phase, per node, per role: what the agents reported. */
  results: PhaseResults;
  durationMs: number;
  /** Every phase on every node, in the order they ended: for `--report`. */
  timings: RestoreTiming[];
}

/** A phase of a restore run (check is verify's, not the run's). */
export type RestoreRunPhase = (typeof RESTORE_RUN_PHASES)[number];

/** What a restore tells while it runs: to a person (plain or live lines) and to the running-restore record. */
export interface RestoreReporter {
  /** A line for a person. */
  say(line: string): void;
  /** A phase starts on these nodes (cleanup starts on the schema node, then on the others). */
  phase?(phase: RestoreRunPhase, nodes: string[]): void;
  /** A role on a node reported how far it got in the running phase. */
  progress?(node: string, p: RoleProgress): void;
  /** A node answered the running phase: ok, or failed. */
  nodeEnded?(node: string, phase: RestoreRunPhase, ok: boolean): void;
}

/** The manifest the agents must read back, by its digest. */
export interface CheckedManifest {
  manifest: Manifest;
  sha256: string;
  /** An encrypted set's identities (AGE-SECRET-KEY-1…: its own, then those of the sets it references), sent to the agents over mTLS; absent for a clear set. */
  setIdentities?: string[];
}

/** Deadline of EndRestore on each agent, ms: a short call, and the run is over already. */
export const END_RESTORE_TIMEOUT_MS = 10_000;

/**
 * Runs every phase of the plan; never throws for a failed phase, it reports it. However the run
 * ends (done, failed, interrupted), every agent of the plan is then told (EndRestore), so that a
 * backup right after it is not refused for the agents' hold between phases.
 */
export async function runRestore(
  fleet: FleetConfig,
  agents: readonly AgentHandle[],
  checked: CheckedManifest,
  plan: RestorePlan,
  restoreId: string,
  reporter: RestoreReporter,
  signal?: AbortSignal,
): Promise<RestoreOutcome> {
  try {
    return await runPhases(fleet, agents, checked, plan, restoreId, reporter, signal);
  } finally {
    await endRestore(agents, plan, restoreId, reporter);
  }
}

/** EndRestore on every agent of the plan, whatever the signal says (an interrupted run ends too); an agent not told keeps its hold until it runs out. */
async function endRestore(agents: readonly AgentHandle[], plan: RestorePlan, restoreId: string, reporter: RestoreReporter): Promise<void> {
  const nodes = [...new Set(plan.steps.map((s) => s.node))];
  const settled = await Promise.allSettled(nodes.map(async (node) => {
    const a = agents.find((x) => x.node === node);
    if (a) await a.endRestore(restoreId, END_RESTORE_TIMEOUT_MS);
  }));
  settled.forEach((r, i) => {
    if (r.status === 'rejected') reporter.say(`  warning: ${nodes[i]} was not told that restore ${restoreId} ended (${errorMessage(r.reason)}): a backup on it waits up to ${BETWEEN_PHASES_MS / 1000} s`);
  });
}

async function runPhases(
  fleet: FleetConfig,
  agents: readonly AgentHandle[],
  { manifest, sha256, setIdentities = [] }: CheckedManifest,
  plan: RestorePlan,
  restoreId: string,
  reporter: RestoreReporter,
  signal?: AbortSignal,
): Promise<RestoreOutcome> {
  const say = (line: string) => reporter.say(line);
  const started = Date.now();
  const results: RestoreOutcome['results'] = {};
  const problems: string[] = [];
  const timings: RestoreTiming[] = [];
  const deadlineMs = fleet.backup.shipTimeoutMs;
  const handle = (node: string) => {
    const a = agents.find((x) => x.node === node);
    if (!a) throw new Error(`no agent handle for ${node}`);
    return a;
  };
  const destination = toWireDestination(fleet.destination);
  const runOn = (phase: RestoreRunPhase, steps: RestorePlan['steps']) => {
    reporter.phase?.(phase, steps.map((s) => s.node));
    return Promise.allSettled(
      steps.map((s) => {
        const startedAt = Date.now();
        const done = new Map<string, RoleProgress>();
        const call = handle(s.node).restore(
          { restoreId, backupId: manifest.id, phase: toWirePhase(phase), destination, options: toWireRestoreOptions(s.options), manifestSha256: sha256, setIdentities },
          deadlineMs,
          signal,
          (p) => {
            done.set(p.role, p);
            reporter.progress?.(s.node, p);
          },
        );
        const timed = (ok: boolean) => {
          const sum = (k: 'bytesDone' | 'filesDone') => [...done.values()].reduce((n, p) => n + Number(p[k] || 0), 0);
          timings.push({ phase, node: s.node, startedAt, endedAt: Date.now(), ok, bytes: sum('bytesDone'), files: sum('filesDone') });
          reporter.nodeEnded?.(s.node, phase, ok);
        };
        call.then(() => timed(true), () => timed(false));
        return call;
      }),
    );
  };
  const drill = plan.steps.some((s) => s.options.dropScratch);
  for (const phase of RESTORE_RUN_PHASES) {
    if (phase === 'cleanup' && !drill && verifyProblems(results.verify ?? {}).length) {
      // The data the restore replaced is still in Cassandra's truncated-*/dropped-* snapshots: the
      // way back, kept while the restore has not verified.
      say('• restore phase cleanup skipped: the restore did not verify; the snapshots Cassandra took of the replaced data are kept');
      break;
    }
    if (signal?.aborted) {
      // Interrupted between phases: the next one is not started; resuming runs it.
      problems.push(`${phase} not started: ${errorMessage(signal.reason ?? 'interrupted')}`);
      return { restoreId, backupId: manifest.id, ok: false, failedPhase: phase, problems, results, durationMs: Date.now() - started, timings };
    }
    say(`• restore phase ${phase}`);
    const t0 = Date.now();
    // Cleanup runs on the node that made the schema first: it drops a drill's scratch keyspace,
    // and only then can the other nodes clear the snapshots that drop made them take.
    const groups = phase === 'cleanup'
      ? [plan.steps.filter((s) => s.options.createSchema), plan.steps.filter((s) => !s.options.createSchema)]
      : [plan.steps];
    results[phase] = {};
    for (const steps of groups) {
      const settled = await runOn(phase, steps);
      settled.forEach((r, i) => {
        const node = steps[i].node;
        if (r.status === 'rejected') problems.push(`${phase} on ${node}: ${errorMessage(r.reason)}`);
        else results[phase][node] = r.value.reports;
      });
      if (problems.length) break;
    }
    if (problems.length) {
      return { restoreId, backupId: manifest.id, ok: false, failedPhase: phase, problems, results, durationMs: Date.now() - started, timings };
    }
    say(`  ${phase} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  problems.push(...verifyProblems(results.verify ?? {}));
  return { restoreId, backupId: manifest.id, ok: problems.length === 0, failedPhase: null, problems, results, durationMs: Date.now() - started, timings };
}

/** Collects what the roles' verify reports flag: not ok, with their problems. */
function verifyProblems(verify: Record<string, PhaseReport[]>): string[] {
  const out: string[] = [];
  for (const [node, reports] of Object.entries(verify)) {
    for (const r of reports) {
      if (r.ok) continue;
      const more = r.problemCount > r.problems.length ? [`${node} ${r.role}: … and ${r.problemCount - r.problems.length} more`] : [];
      out.push(...(r.problems.length ? r.problems.map((p) => `${node} ${r.role}: ${p}`) : [`${node} ${r.role}: verification failed`]), ...more);
    }
  }
  return out;
}
