/** What `tandem restore` and `tandem drill` share around a restore run: its progress on stderr and its record for `tandem status`. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from '../../shared/errors';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import type { RestorePlan } from '../restore/plan';
import { resumeCommand, startRestoreRecord } from '../restore/record';
import { runRestore, type CheckedManifest, type RestoreOutcome, type RestoreReporter } from '../restore/run';
import { EXIT } from './common';
import { restoreProgress } from './restore-progress';

/** Runs the plan with live or plain progress, keeping `<stateDir>/restore.json` up to date from start to end. */
export async function watchedRestore(
  fleet: FleetConfig,
  agents: readonly AgentHandle[],
  checked: CheckedManifest,
  plan: RestorePlan,
  run: { restoreId: string; kind: 'restore' | 'drill'; resume: string[] },
): Promise<RestoreOutcome> {
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
  // Ctrl-C leaves the record open (the restore is interrupted, resumable), but first gives the
  // terminal its cursor back, which the live lines hide, and tells how to resume.
  const onSigint = () => {
    progress.stop();
    progress.say(`interrupted: the agents stop the phase they run; resume with: ${resumeCommand(record.record)}`);
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    const outcome = await runRestore(fleet, agents, checked, plan, run.restoreId, reporter);
    record.end(outcome.ok, outcome.ok ? '' : `${outcome.failedPhase ? `stopped in phase ${outcome.failedPhase}` : 'verification failed'}: ${outcome.problems[0] ?? ''}`);
    return outcome;
  } catch (err) {
    record.end(false, errorMessage(err));
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
  }
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
