/**
 * How `tandem restore` and `tandem drill` show their progress on stderr: on a terminal, one live
 * line per node (the restore phase it runs, its roles' steps, bytes, rate, time left: the
 * backup's renderer); anywhere else the plain lines, throttled, that scripts and tests read.
 */
import type { RoleProgress } from '../../shared/generated/tandem/v2/agent';
import type { RestoreReporter, RestoreRunPhase } from '../restore/run';
import { throttledProgress } from './common';
import { liveLines, wantsLiveProgress, type LiveFigures, type ProgressStream } from './progress';

/** A restore reporter that can be stopped: the live lines are drawn a last time and the cursor given back. */
export interface StoppableRestoreReporter extends RestoreReporter {
  stop(): void;
}

/** The restore's progress reporter for `stream`: live lines on a terminal, plain lines otherwise (same rules as the backup's). */
export function restoreProgress(stream: ProgressStream = process.stderr, env: NodeJS.ProcessEnv = process.env): StoppableRestoreReporter {
  const say = (line: string) => void stream.write(line + '\n');
  const plain: StoppableRestoreReporter = { say, progress: throttledProgress(undefined, say), stop() {} };
  return wantsLiveProgress(stream, env) ? liveRestoreReporter(stream as NodeJS.WriteStream, plain) : plain;
}

/** Where one node is in the running phase. */
interface NodeRun {
  phase: RestoreRunPhase;
  /** null while the phase runs on the node. */
  ok: boolean | null;
  roles: Map<string, RoleProgress>;
  /** When the phase started on the node: its rate counts from there. */
  since: number;
}

/** A node's live-line figures in a restore phase, every role's bytes summed. */
export function restoreFigures(n: Pick<NodeRun, 'phase' | 'ok' | 'roles'>): LiveFigures {
  const roles = [...n.roles.values()];
  return {
    state: n.ok === null ? n.phase : `${n.phase} ${n.ok ? 'done' : 'failed'}`,
    phases: roles.map((r) => `${r.role} ${r.phase} ${r.filesDone}/${r.filesTotal}`).join(', '),
    done: roles.reduce((sum, r) => sum + r.bytesDone, 0),
    total: roles.reduce((sum, r) => sum + r.bytesTotal, 0),
  };
}

function liveRestoreReporter(stream: NodeJS.WriteStream, plain: StoppableRestoreReporter): StoppableRestoreReporter {
  const lines = liveLines(stream, plain.say);
  const nodes = new Map<string, NodeRun>();
  const draw = (node: string) => {
    const n = nodes.get(node);
    if (n) lines.draw(node, restoreFigures(n), n.since);
  };
  return {
    say: lines.say,
    phase(phase, names) {
      // Each phase counts its bytes afresh: a line shows the phase it runs, not the restore's sum.
      for (const node of names) {
        nodes.set(node, { phase, ok: null, roles: new Map(), since: Date.now() });
        draw(node);
      }
    },
    progress(node, p) {
      if (lines.stopped) return plain.progress!(node, p);
      nodes.get(node)?.roles.set(p.role, p);
      draw(node);
    },
    nodeEnded(node, _phase, ok) {
      const n = nodes.get(node);
      if (n) n.ok = ok;
      draw(node);
    },
    stop: lines.stop,
  };
}
