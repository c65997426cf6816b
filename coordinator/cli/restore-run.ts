/** What `tandem restore` and `tandem drill` share around a restore run: its progress on stderr and its record for `tandem status`. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from '../../shared/errors';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import type { RestorePlan } from '../restore/plan';
import { resumeCommand, startRestoreRecord, type RestoreRecord } from '../restore/record';
import { runRestore, type CheckedManifest, type RestoreOutcome, type RestoreReporter } from '../restore/run';
import { watchInterrupt } from './interrupt';
import { restoreProgress } from './restore-progress';

/** Runs the plan with live or plain progress, keeping `<stateDir>/restore.json` up to date from start to end. */
export async function watchedRestore(
  fleet: FleetConfig,
  agents: readonly AgentHandle[],
  checked: CheckedManifest,
  plan: RestorePlan,
  run: { restoreId: string; kind: 'restore' | 'drill'; resume: string[] },
): Promise<RestoreOutcome & { interrupted: boolean }> {
  const progress = restoreProgress();
  const record = startRestoreRecord(fleet.stateDir, { ...run, backupId: checked.manifest.id }, (w) => progress.say(`warning: ${w}`));
  const reporter: RestoreReporter = {
    say: progress.say,
    progress: progress.progress,
    nodeEnded: progress.nodeEnded,
    phase(phase, nodes) {
      record.phase(phase);
      progress.phase?.(phase, nodes);
    },
  };
  // Ctrl-C or SIGTERM aborts the calls in flight (the agents stop the phase they run) and lets them
  // settle; the record stays open, so `tandem status` shows the run as interrupted and resumable.
  // A second signal exits at once.
  const interrupt = watchInterrupt((name) => {
    progress.stop();
    progress.say(`${name}: stopping the restore on every node (again to exit at once)…`);
  });
  try {
    const outcome = await runRestore(fleet, agents, checked, plan, run.restoreId, reporter, interrupt.signal);
    if (interrupt.signal.aborted) {
      progress.stop();
      progress.say(interruptedLines(record.record).join('\n'));
      return { ...outcome, interrupted: true };
    }
    record.end(outcome.ok, outcome.ok ? '' : `${outcome.failedPhase ? `stopped in phase ${outcome.failedPhase}` : 'verification failed'}: ${outcome.problems[0] ?? ''}`);
    return { ...outcome, interrupted: false };
  } catch (err) {
    if (!interrupt.signal.aborted) record.end(false, errorMessage(err));
    throw err;
  } finally {
    interrupt.dispose();
    progress.stop();
  }
}

/** What an interrupted run leaves (its record stays open) and how to resume it. */
export function interruptedLines(record: Pick<RestoreRecord, 'restoreId' | 'kind' | 'backupId' | 'phase' | 'resume'>): string[] {
  return [
    `interrupted: ${record.kind} ${record.restoreId} of backup ${record.backupId} stopped${record.phase ? ` in phase ${record.phase}` : ''}`,
    `  resume it with: ${resumeCommand(record)}`,
  ];
}

/**
 * The arguments that resume this run: the verb's own, its backup id argument replaced by the id
 * it resolved (`drill latest` resumes the set it started on), and `--restore-id` set to this run's.
 */
export function resumeArgs(verb: string, argv: string[], options: ParseArgsConfig['options'], backupId: string, restoreId: string): string[] {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  const out = [...argv];
  // Typed loosely: with options not known at compile time, TypeScript leaves the option tokens out of the union.
  for (const t of tokens as { kind: string; index: number; name?: string; inlineValue?: boolean }[]) {
    if (t.kind === 'positional') out[t.index] = backupId;
    if (t.kind === 'option' && t.name === 'restore-id') {
      out[t.index] = '';
      if (!t.inlineValue) out[t.index + 1] = '';
    }
  }
  // An emptied slot is one this run's --restore-id replaces; an empty argument given on purpose was refused before.
  return [verb, ...out.filter((a) => a !== ''), '--restore-id', restoreId];
}
