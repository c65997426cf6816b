/**
 * Runs a restore plan phase by phase. Each phase runs on every agent and must succeed on all of
 * them before the next starts (a barrier); the first failure stops the restore where it is, and
 * running it again with the same restore id resumes it, every phase being idempotent.
 */
import { RESTORE_RUN_PHASES } from '../../shared/contract';
import { errorMessage } from '../../shared/errors';
import type { RoleProgress } from '../../shared/generated/tandem/v1/agent';
import type { Manifest } from '../../shared/manifest';
import type { FleetConfig } from '../config';
import type { RestorePlan } from './plan';

/** What a restore did. */
export interface RestoreOutcome {
  restoreId: string;
  backupId: string;
  ok: boolean;
  /** The phase that failed, if any. */
  failedPhase: string | null;
  problems: string[];
  /** Per phase, per node, per role: what the agents reported. */
  results: Record<string, Record<string, unknown>>;
  durationMs: number;
}

/** Runs every phase of the plan; never throws for a failed phase, it reports it. */
export async function runRestore(
  fleet: FleetConfig,
  manifest: Manifest,
  plan: RestorePlan,
  restoreId: string,
  say: (line: string) => void,
  signal?: AbortSignal,
  progress?: (node: string, p: RoleProgress) => void,
): Promise<RestoreOutcome> {
  const started = Date.now();
  const results: RestoreOutcome['results'] = {};
  const problems: string[] = [];
  const deadlineMs = fleet.backup.shipTimeoutMs;
  for (const phase of RESTORE_RUN_PHASES) {
    say(`• restore phase ${phase}`);
    const t0 = Date.now();
    const settled = await Promise.allSettled(
      plan.steps.map((s) =>
        s.agent.restore(
          {
            restoreId,
            backupId: manifest.id,
            phase,
            manifestJson: JSON.stringify(manifest),
            destinationJson: JSON.stringify(fleet.destination),
            options: s.options,
          },
          deadlineMs,
          signal,
          (p) => progress?.(s.agent.node, p),
        ),
      ),
    );
    results[phase] = {};
    settled.forEach((r, i) => {
      const node = plan.steps[i].agent.node;
      if (r.status === 'rejected') problems.push(`${phase} on ${node}: ${errorMessage(r.reason)}`);
      else results[phase][node] = JSON.parse(r.value.resultJson || '{}');
    });
    if (problems.length) {
      return { restoreId, backupId: manifest.id, ok: false, failedPhase: phase, problems, results, durationMs: Date.now() - started };
    }
    say(`  ${phase} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  problems.push(...verifyProblems(results.verify ?? {}));
  return { restoreId, backupId: manifest.id, ok: problems.length === 0, failedPhase: null, problems, results, durationMs: Date.now() - started };
}

/** Collects what the roles' verify results flag: `ok: false` and their `problems`. */
function verifyProblems(verify: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [node, roles] of Object.entries(verify)) {
    for (const [role, r] of Object.entries((roles ?? {}) as Record<string, unknown>)) {
      const v = r as { ok?: boolean; problems?: string[] } | null;
      if (v && v.ok === false) out.push(...(v.problems?.length ? v.problems.map((p) => `${node} ${role}: ${p}`) : [`${node} ${role}: verification failed`]));
    }
  }
  return out;
}
