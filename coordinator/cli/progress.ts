/**
 * How `tandem backup` shows its progress on stderr: on a terminal, one live line per node
 * (cli-progress's MultiBar: state, each role's phase, bytes, rate, time left) with the run's
 * phases printed above the bars; anywhere else (a pipe, a log, CI, NO_COLOR, TERM=dumb) the plain
 * lines, throttled, that scripts and tests read.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import { AgentState, type BackupStatus } from '../../shared/generated/tandem/v2/agent';
import { formatBytes } from '../../shared/format';
import { throttleEach } from '../../shared/progress';
import type { BackupReporter } from '../backup/two-phase';
import { describeProgress, PRINT_INTERVAL_MS } from './common';

/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** A reporter that can be stopped: the live lines are drawn a last time and the cursor given back; later reports are plain lines. */
export interface StoppableReporter extends BackupReporter {
  stop(): void;
  /** A line for a person, above the live lines while they are shown. */
  say(line: string): void;
}

/** True when progress may redraw lines in place: a terminal that is not a dumb one, outside CI, without NO_COLOR. */
export function wantsLiveProgress(stream: ProgressStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.CI && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** The backup's progress reporter for `stream`: live lines on a terminal, plain lines otherwise. */
export function backupProgress(stream: ProgressStream = process.stderr, env: NodeJS.ProcessEnv = process.env): StoppableReporter {
  const plain = plainReporter((line) => stream.write(line + '\n'));
  return wantsLiveProgress(stream, env) ? liveReporter(stream as NodeJS.WriteStream, plain) : plain;
}

/** Phases, and a line per node when its state or a role's phase changes, else every PRINT_INTERVAL_MS. */
export function plainReporter(say: (line: string) => void): StoppableReporter {
  const firstSeen = new Map<string, number>();
  const stage = (s: BackupStatus) => `${s.state}|${s.progress.map((r) => r.role + r.phase).join()}`;
  const print = throttleEach(
    (u: { node: string; s: BackupStatus }) => u.node,
    ({ node, s }) => {
      const seconds = Math.max(0.001, (Date.now() - firstSeen.get(node)!) / 1000);
      const p = s.progress.map((r) => describeProgress(r, seconds)).join(', ');
      say(`  ${node}: ${AgentState[s.state].toLowerCase()}${p ? ` (${p})` : ''}${s.error ? `: ${s.error}` : ''}`);
    },
    { intervalMs: PRINT_INTERVAL_MS, urgent: (u, last) => stage(u.s) !== stage(last.s) },
  );
  return {
    phase: (m) => say(`• ${m}`),
    node(node: string, s: BackupStatus) {
      if (!firstSeen.has(node)) firstSeen.set(node, Date.now());
      print({ node, s });
    },
    say,
    stop() {},
  };
}

/** One live line per node; `plain` takes over once stopped (an interrupted run's abort is told in plain lines). */
function liveReporter(stream: NodeJS.WriteStream, plain: StoppableReporter): StoppableReporter {
  const multibar = new MultiBar({
    stream,
    format: '{node} [{bar}] {state} {phases} {bytes} {rate} {left}',
    barsize: 20,
    hideCursor: true,
    linewrap: false,
    // Stopped by this reporter only: at the end of the run or on SIGINT (backupCommand).
    gracefulExit: false,
    fps: 5,
  });
  const bars = new Map<string, { bar: SingleBar; since: number }>();
  let stopped = false;
  const width = () => Math.max(0, ...[...bars.keys()].map((n) => n.length));
  const say = (line: string) => (stopped || !bars.size ? plain.say(line) : multibar.log(line + '\n'));
  return {
    phase: (m) => say(`• ${m}`),
    node(node, s) {
      if (stopped) return plain.node(node, s);
      const payload = liveLine(node, s, bars.get(node)?.since ?? Date.now());
      const total = Math.max(1, payload.total);
      const known = bars.get(node);
      if (!known) bars.set(node, { bar: multibar.create(total, payload.done, payload), since: Date.now() });
      else {
        known.bar.setTotal(total);
        known.bar.update(payload.done, payload);
      }
      // Names padded to the longest, so the bars line up.
      for (const [n, b] of bars) b.bar.update({ node: n.padEnd(width()) });
    },
    say,
    stop() {
      if (stopped) return;
      stopped = true;
      if (bars.size) {
        multibar.update(); // prints lines logged since the last redraw
        multibar.stop();
      }
    },
  };
}

/** What a node's live line shows, from its status and when it was first seen. */
export function liveLine(node: string, s: BackupStatus, since: number, now = Date.now()) {
  const done = s.progress.reduce((n, r) => n + r.bytesDone, 0);
  const total = s.progress.reduce((n, r) => n + r.bytesTotal, 0);
  const seconds = (now - since) / 1000;
  const rate = seconds > 0 && done > 0 ? done / seconds : 0;
  const eta = rate && total > done ? `ETA ${Math.ceil((total - done) / rate)} s` : '';
  return {
    node,
    done,
    total,
    state: AgentState[s.state].toLowerCase() + (s.error ? ` (${s.error})` : ''),
    phases: s.progress.map((r) => `${r.role} ${r.phase} ${r.filesDone}/${r.filesTotal}`).join(', '),
    bytes: done || total ? `${formatBytes(done)}${total ? `/${formatBytes(total)}` : ''}` : '',
    rate: rate ? `${formatBytes(rate)}/s` : '',
    left: eta,
  };
}
