/**
 * How `tandem backup` shows its progress on stderr (and the live lines `restore` and `drill` share): on a terminal, one live line per node
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
  const lines = liveLines(stream, plain.say);
  const since = new Map<string, number>();
  return {
    phase: (m) => lines.say(`• ${m}`),
    node(node, s) {
      if (lines.stopped) return plain.node(node, s);
      if (!since.has(node)) since.set(node, Date.now());
      lines.draw(node, backupFigures(s), since.get(node)!);
    },
    say: lines.say,
    stop: lines.stop,
  };
}

/** What a node's live line shows besides its name: its state, its roles' phases, bytes done of total. */
export interface LiveFigures {
  state: string;
  phases: string;
  done: number;
  total: number;
}

/** The live lines themselves, for any run (backup, restore, drill): one bar per node, lines for a person above them. */
export interface LiveLines {
  /** Draws (or adds) the node's line; `since` is when what the rate counts began, epoch ms. */
  draw(node: string, figures: LiveFigures, since: number): void;
  /** A line above the bars; through `plainSay` before the first bar and once stopped. */
  say(line: string): void;
  /** Draws the lines a last time and gives the cursor back; safe to call more than once. */
  stop(): void;
  readonly stopped: boolean;
}

/** One live line per node on `stream` (cli-progress's MultiBar): the renderer `tandem backup`, `restore` and `drill` share. */
export function liveLines(stream: NodeJS.WriteStream, plainSay: (line: string) => void): LiveLines {
  const multibar = new MultiBar({
    stream,
    format: '{node} [{bar}] {state} {phases} {bytes} {rate} {left}',
    barsize: 20,
    hideCursor: true,
    linewrap: false,
    // Stopped by the verb only: at the end of the run or on SIGINT.
    gracefulExit: false,
    fps: 5,
  });
  const bars = new Map<string, SingleBar>();
  let stopped = false;
  const width = () => Math.max(0, ...[...bars.keys()].map((n) => n.length));
  return {
    draw(node, figures, since) {
      if (stopped) return;
      const payload = figuresLine(node, figures, since);
      const total = Math.max(1, payload.total);
      const known = bars.get(node);
      if (!known) bars.set(node, multibar.create(total, payload.done, payload));
      else {
        known.setTotal(total);
        known.update(payload.done, payload);
      }
      // Names padded to the longest, so the bars line up.
      for (const [n, b] of bars) b.update({ node: n.padEnd(width()) });
    },
    say: (line) => (stopped || !bars.size ? plainSay(line) : multibar.log(line + '\n')),
    stop() {
      if (stopped) return;
      stopped = true;
      if (bars.size) {
        multibar.update(); // prints lines logged since the last redraw
        multibar.stop();
      }
    },
    get stopped() {
      return stopped;
    },
  };
}

/** A backup node's figures, from its status. */
function backupFigures(s: BackupStatus): LiveFigures {
  return {
    state: AgentState[s.state].toLowerCase() + (s.error ? ` (${s.error})` : ''),
    phases: s.progress.map((r) => `${r.role} ${r.phase} ${r.filesDone}/${r.filesTotal}`).join(', '),
    done: s.progress.reduce((n, r) => n + r.bytesDone, 0),
    total: s.progress.reduce((n, r) => n + r.bytesTotal, 0),
  };
}

/** What a node's live line shows, from its status and when it was first seen. */
export function liveLine(node: string, s: BackupStatus, since: number, now = Date.now()) {
  return figuresLine(node, backupFigures(s), since, now);
}

/** A live line's fields from a node's figures: bytes, rate since `since` and time left at that rate. */
export function figuresLine(node: string, f: LiveFigures, since: number, now = Date.now()) {
  const seconds = (now - since) / 1000;
  const rate = seconds > 0 && f.done > 0 ? f.done / seconds : 0;
  const eta = rate && f.total > f.done ? `ETA ${Math.ceil((f.total - f.done) / rate)} s` : '';
  return {
    node,
    done: f.done,
    total: f.total,
    state: f.state,
    phases: f.phases,
    bytes: f.done || f.total ? `${formatBytes(f.done)}${f.total ? `/${formatBytes(f.total)}` : ''}` : '',
    rate: rate ? `${formatBytes(rate)}/s` : '',
    left: eta,
  };
}
