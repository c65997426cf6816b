/**
 * One row of `npm run faults`: a fault injected in one phase, or one hostile input, with what
 * tandem must do and what it did. Cases are plain functions so that `npm test` can run the quick
 * ones as uvu tests and the fault runner can run them all and print one table.
 */

/** Where a case needs to run. */
export type CaseNeeds =
  /** Pure code: no process, no service. */
  | 'none'
  /** Real agents with the rehearsal role (test/helpers/fleet.ts), no sandbox. */
  | 'rehearsal'
  /** The sandbox's real Cassandra, Elasticsearch, MinIO and sshd. */
  | 'sandbox';

/** What a case saw; `problems` empty means the expectation held. */
export interface Observation {
  /** What happened, in a few words ("refused: INVALID_ARGUMENT options.indexPrefix …"). */
  observed: string;
  /** Debris found afterwards ("none", or "node2: 1 snapshot tandem-x"). */
  leftovers: string;
  /** Hot-writer records acknowledged before a completed set's cut that its restore lost; null when not measured. */
  recordsLost: number | null;
  /** Each broken expectation, in words. Empty when the case passed. */
  problems: string[];
  /** The hostile destination invariants, when the case measured them (through the real CLI). */
  measured?: Invariants;
}

/**
 * What a hostile destination case measures, every one expected 0 (or under its bound): the
 * issue's "every case refused or harmless".
 */
export interface Invariants {
  /** Sets listed complete before the case and not after (those the case's own policy removes aside). */
  setsLost: number;
  /** Entries written, changed (size, mode, owner, mtime, content) or removed outside the destination and the restore targets. */
  outsideChanged: number;
  /** Bytes of planted content found in any restore output. */
  plantedBytesRestored: number;
  /** The coordinator's peak resident memory over the case's CLI runs, bytes; null when not measured. */
  peakRss: number | null;
}

export interface FaultCase {
  kind: 'fault' | 'hostile';
  /** The fault or input ("kill -9 of node2's agent", "table name '../x' in a manifest"). */
  name: string;
  /** prepare | between prepare and commit | commit | shipping | manifest write | restore:<phase> | rpc | cli | archive | manifest … */
  phase: string;
  /** The outcome tandem promises ("aborted everywhere, nothing left, exit 1"). */
  expected: string;
  needs: CaseNeeds;
  /** Runs in `npm test` too (fits CI's time); the rest only in `npm run faults`. */
  quick: boolean;
  run(): Promise<Observation>;
}

/** Shorthand for a case that passed or failed on a list of checks. */
export function observe(observed: string, problems: string[], leftovers = 'none', recordsLost: number | null = null): Observation {
  return { observed, leftovers, recordsLost, problems };
}
