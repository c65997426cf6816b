/**
 * The coordinator's phases of one backup run (preflight, prepare, commit, shipping, manifest,
 * cleanup), by its clock: for the manifest's `phases` and `tandem backup --json`'s `phasesMs`.
 */
import type { RunPhase, RunPhaseSpan } from '../../shared/parts';

/** Times the phases of one run: each phase runs until the next one starts, or until end(). */
export class RunClock {
  private readonly list: RunPhaseSpan[] = [];
  private open = false;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts `phase` now, ending the one before. */
  start(phase: RunPhase): void {
    this.end();
    const at = this.now();
    this.list.push({ phase, startedAt: at, endedAt: at });
    this.open = true;
  }

  /** Ends the running phase now (nothing when none runs). */
  end(): void {
    if (this.open) this.list[this.list.length - 1].endedAt = Math.max(this.list[this.list.length - 1].startedAt, this.now());
    this.open = false;
  }

  /** The phases so far, in order; the running one ends where it started. */
  phases(): RunPhaseSpan[] {
    return this.list.map((p) => ({ ...p }));
  }

  /** Each phase's duration in ms, in order (a phase run twice counts both times). */
  durations(): Partial<Record<RunPhase, number>> {
    const out: Partial<Record<RunPhase, number>> = {};
    for (const p of this.list) out[p.phase] = (out[p.phase] ?? 0) + (p.endedAt - p.startedAt);
    return out;
  }
}
