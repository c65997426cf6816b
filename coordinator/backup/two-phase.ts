/**
 * The coordinator's two-phase backup: an id already used is refused; then Prepare on every
 * agent in parallel (checks, set-up, a lease); Commit on all at once only if every vote is yes;
 * otherwise Abort everywhere. After Commit it follows every agent until its part is shipped,
 * then writes the manifest last.
 */
import type { Destination } from '../../shared/destination';
import { AgentState, type BackupPlan, type BackupStatus, type DescribeResponse } from '../../shared/generated/tandem/v2/agent';
import { errorMessage, nodeError } from '../../shared/errors';
import { newBackupId, snapshotTagFor } from '../../shared/names';
import { backupOptionsSchema, fromFleetOptions, toWireBackupOptions, type BackupOptions } from '../../shared/wire/backup-options';
import { toWireDestination } from '../../shared/wire/destination';
import { retry } from '../../shared/retry';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { abortEverywhere, describeAbort } from './abort';
import { commitRound } from './commit-round';
import { faultPoint } from '../fault-point';
import type { Journal, JournalStep } from './journal';
import { writeManifest } from './manifest-writer';
import { chooseParent } from './parent';
import { signingOf } from '../signing';
import { RunClock } from './run-clock';
import type { RunPhase } from '../../shared/parts';
import { traces } from './unused-id';
import { makeSetKey, writeSetKey } from '../keys';
import { openDestination } from '../../shared/destination';

/** How a backup ended. */
export type BackupStatusWord = 'complete' | 'aborted' | 'failed';

/** The outcome of one backup run, as printed by `tandem backup --json`. */
export interface BackupOutcome {
  id: string;
  status: BackupStatusWord;
  reason: string;
  snapshotSpreadMs: number | null;
  /** How far apart the stores' cuts were (Cassandra, Elasticsearch, files), ms. */
  crossStoreSpreadMs: number | null;
  bytes: number;
  durationMs: number;
  nodes: { node: string; state: string; error: string }[];
  /** Agents that did not answer Describe: the run stopped before anything was reserved. */
  unreachable: string[];
  /** The complete set this one builds on; null for a full set. */
  parent: string | null;
  /** How long each of the coordinator's phases took, ms (only those the run reached). */
  phasesMs: Partial<Record<RunPhase, number>>;
}

/** Receives what happens during a run, for progress display and logs. */
export interface BackupReporter {
  phase(message: string): void;
  node(node: string, status: BackupStatus): void;
}

/** Options of one run. */
export interface BackupRunOptions {
  /** Use this id instead of a new one. */
  backupId?: string;
  /** Options of this run, over the fleet file's. */
  options?: Partial<BackupOptions>;
  /** Aborting (SIGINT) aborts the backup everywhere. */
  signal?: AbortSignal;
  /** Records each step before its first RPC, so that a run whose coordinator died can be recovered. */
  journal?: Journal;
  /** Store everything again instead of building on the newest complete set. */
  full?: boolean;
}

const TERMINAL = new Set([AgentState.DONE, AgentState.ABORTED, AgentState.FAILED]);

/**
 * Runs one coordinated backup over the fleet, writing to `destination`, which the verb opened once
 * (the agents open the fleet file's destination themselves). Never throws for a failed backup: it reports it.
 */
export async function runBackup(
  fleet: FleetConfig,
  destination: Destination,
  agents: readonly AgentHandle[],
  reporter: BackupReporter,
  opts: BackupRunOptions = {},
): Promise<BackupOutcome> {
  const started = Date.now();
  const clock = new RunClock();
  clock.start('preflight');
  const id = opts.backupId ?? newBackupId();
  const b = fleet.backup;
  // An encrypted set gets a key of its own, in memory until it is written sealed (before any Commit);
  // the agents are sent only its recipient, in the options the signed manifest records.
  const setKey = fleet.encryption.mode === 'age' ? makeSetKey(fleet.encryption.recipients) : null;
  const options = backupOptionsSchema.parse({ compression: b.compression, ...fromFleetOptions(b.options), ...opts.options, setRecipient: setKey?.recipient ?? null });
  const plan: BackupPlan = {
    backupId: id,
    tag: snapshotTagFor(id),
    leaseMs: b.leaseMs,
    destination: toWireDestination(fleet.destination),
    options: toWireBackupOptions(options),
    parent: undefined,
  };
  const last = new Map<string, BackupStatus>();
  let entry: ReturnType<Journal['begin']> | undefined;
  const mark = (step: JournalStep, reason = '') => {
    if (entry && opts.journal) entry = opts.journal.step(entry, step, reason);
  };
  const ended = (status: BackupStatusWord, reason: string, extra: Partial<BackupOutcome> = {}): BackupOutcome => {
    mark(status, reason);
    return outcome(status, reason, extra);
  };
  const outcome = (status: BackupStatusWord, reason: string, extra: Partial<BackupOutcome> = {}): BackupOutcome => {
    clock.end();
    return {
      id,
      status,
      reason,
      snapshotSpreadMs: null,
      crossStoreSpreadMs: null,
      bytes: 0,
      durationMs: Date.now() - started,
      nodes: agents.map((a) => {
        const s = last.get(a.node);
        return { node: a.node, state: s ? AgentState[s.state].toLowerCase() : 'unknown', error: s?.error ?? '' };
      }),
      unreachable: [],
      parent: plan.parent?.backupId ?? null,
      phasesMs: clock.durations(),
      ...extra,
    };
  };
  const abortAll = async (reason: string, status: BackupStatusWord): Promise<BackupOutcome> => {
    clock.start('cleanup');
    reporter.phase(`aborting ${id} on every node: ${reason}`);
    const r = await abortEverywhere(fleet, destination, agents, id, reason);
    const full = reason + describeAbort(id, r);
    // An agent not reached may still hold its part (a done part, if Commit reached it): the entry
    // stays open, and the next backup or `tandem recover` sends the Abort again.
    if (r.unreached.length || r.leftover) {
      mark('cleaning', full);
      return outcome(status, full);
    }
    return ended(status, full);
  };

  // Describe: identity, roles and clock of every agent, before anything is reserved.
  reporter.phase(`backup ${id}: describing ${agents.length} agents`);
  const described = await Promise.allSettled(agents.map((a) => describeWithOffset(a, b.commitTimeoutMs, opts.signal)));
  const info = new Map<string, { d: DescribeResponse; offset: number }>();
  const problems: string[] = [];
  described.forEach((r, i) => {
    const a = agents[i];
    if (r.status === 'rejected') problems.push(`${a.node} unreachable: ${errorMessage(r.reason)}`);
    else {
      const missing = a.entry.roles.filter((role) => !r.value.d.roles.includes(role));
      if (missing.length) problems.push(`${a.node} lacks role ${missing.join(', ')} (it has ${r.value.d.roles.join(', ') || 'none'})`);
      info.set(a.node, r.value);
    }
  });
  const unreachable = described.flatMap((r, i) => (r.status === 'rejected' ? [agents[i].node] : []));
  if (problems.length) return outcome('aborted', problems.join('; '), { unreachable });

  // The key that will sign the manifest is read before anything is reserved: a set that cannot be signed is no set.
  let signing: ReturnType<typeof signingOf>;
  try {
    signing = signingOf(fleet);
  } catch (err) {
    return outcome('aborted', `${errorMessage(err)}; nothing was prepared`);
  }

  // An id that exists anywhere is refused before anything is reserved: nothing to abort, so
  // no Abort can reach the existing set.
  reporter.phase(`checking that ${id} is new at the destination and on every agent`);
  const used = await traces(destination, agents, id, b.commitTimeoutMs);
  const journaled = opts.journal?.has(id) ? [`the coordinator's journal ${opts.journal.dir} has a run ${id}`] : [];
  if (used.length || journaled.length) {
    return outcome('aborted', `backup id ${id} is already used, nothing was prepared: ${[...used, ...journaled].join('; ')}; a new backup needs a new id (without --id it gets one)`);
  }

  if (!opts.full) {
    reporter.phase('finding the newest complete set to build on');
    try {
      plan.parent = (await chooseParent(destination, agents.map((a) => a.node), { keys: signing.trusted }, setKey !== null)) ?? undefined;
    } catch (err) {
      return outcome('aborted', `cannot list the sets at the destination to build on the newest: ${errorMessage(err)}; nothing was prepared`);
    }
  }

  // Phase one. From here on the run is in the journal: a coordinator killed now is recovered.
  entry = opts.journal?.begin(id, started, options, plan.parent?.backupId ?? null);
  faultPoint('before-prepare');
  clock.start('prepare');
  reporter.phase(`prepare on ${agents.length} agents (lease ${b.leaseMs} ms)`);
  const votes = await Promise.allSettled(agents.map((a) => a.prepare(plan, b.prepareTimeoutMs, opts.signal)));
  const noes = votes.flatMap((v, i) => {
    if (v.status === 'rejected') return [nodeError(agents[i].node, v.reason)];
    return v.value.voteYes ? [] : [`${agents[i].node} votes no: ${v.value.reason}`];
  });
  if (noes.length) return abortAll(noes.join('; '), 'aborted');
  if (opts.signal?.aborted) return abortAll('interrupted by the operator', 'aborted');
  // Every channel connected before the first Commit goes out: one that went idle would pay its
  // TCP and TLS handshake inside the commit round, and its cut would come late.
  const cold = (await Promise.allSettled(agents.map((a) => a.connected(b.commitTimeoutMs)))).flatMap((r, i) => (r.status === 'rejected' ? [nodeError(agents[i].node, r.reason)] : []));
  if (cold.length) return abortAll(`not connected before Commit, nothing was committed: ${cold.join('; ')}`, 'aborted');

  // The set key is at the destination before any agent can ship a file encrypted to it: a set
  // whose files nobody could open is never written. An abort from here on removes it with <id>/.
  if (setKey && fleet.encryption.mode === 'age') {
    try {
      await writeSetKey(openDestination(fleet.destination), id, setKey.sealed, fleet.encryption.recipients, signing.key);
    } catch (err) {
      return abortAll(`cannot write the set key of ${id}: ${errorMessage(err)}; nothing was committed`, 'aborted');
    }
  }

  // Phase two: every commit is sent at once, so the cuts happen together (commit-round.ts).
  // Journaled first: a Commit may have been sent only if the journal says "committing".
  mark('committing');
  faultPoint('before-commit');
  clock.start('commit');
  reporter.phase('commit on every agent');
  const round = await commitRound(agents, id, b.commitTimeoutMs);
  if (!round.sent) {
    const stopped = await abortAll(`the Commit call could not be opened on every agent, none was sent: ${round.unopened.join('; ')}`, 'aborted');
    round.release(); // only now: see commit-round.ts
    return stopped;
  }
  const commits = round.results;
  const commitFailures = (
    await Promise.all(
      commits.map(async (c, i) => {
        if (c.status === 'rejected') return [nodeError(agents[i].node, c.reason)];
        if (c.value.state !== AgentState.FAILED) return [];
        // The agent keeps the reason with the backup's status.
        const why = await agents[i].status(id, b.commitTimeoutMs).then((s) => s.error, (err) => errorMessage(err));
        return [`${agents[i].node}: ${why || 'commit failed'}`];
      }),
    )
  ).flat();
  if (commitFailures.length) return abortAll(commitFailures.join('; '), 'failed');

  // Shipping: follow every agent until its part is shipped.
  mark('shipping');
  faultPoint('shipping');
  clock.start('shipping');
  reporter.phase('shipping');
  const shipped = await Promise.allSettled(agents.map((a) => follow(a, id, b.shipTimeoutMs, reporter, last, opts.signal)));
  const shipFailures = shipped.flatMap((s, i) => {
    if (s.status === 'rejected') return [nodeError(agents[i].node, s.reason)];
    return s.value.state === AgentState.DONE ? [] : [`${agents[i].node}: ${s.value.error || AgentState[s.value.state]}`];
  });
  if (opts.signal?.aborted) return abortAll('interrupted by the operator', 'aborted');
  if (shipFailures.length) return abortAll(shipFailures.join('; '), 'failed');

  mark('writing-manifest');
  faultPoint('before-manifest');
  clock.start('manifest');
  reporter.phase('writing the manifest');
  try {
    const m = await writeManifest(fleet, destination, id, started, options, agents, info, last, plan.parent?.backupId ?? null, clock.phases());
    faultPoint('after-manifest');
    return ended('complete', '', { snapshotSpreadMs: m.snapshotSpreadMs, crossStoreSpreadMs: m.crossStoreSpreadMs ?? null, bytes: m.bytes });
  } catch (err) {
    return abortAll(`cannot write the manifest: ${errorMessage(err)}`, 'failed');
  }
}

/**
 * Describe, with the agent's clock offset estimated from the round trip's midpoint. Asked twice,
 * keeping the shorter round trip: the first also opens the connection (the TLS handshake), which
 * made its midpoint put every agent's clock 100-200 ms ahead of the coordinator's on loopback.
 */
export async function describeWithOffset(a: AgentHandle, deadlineMs: number, signal?: AbortSignal): Promise<{ d: DescribeResponse; offset: number }> {
  let best: { d: DescribeResponse; offset: number; roundTrip: number } | undefined;
  for (let i = 0; i < 2; i++) {
    const t0 = Date.now();
    const d = await a.describe(deadlineMs, signal);
    const t1 = Date.now();
    if (!best || t1 - t0 < best.roundTrip) best = { d, offset: d.clockUnixMs - (t0 + t1) / 2, roundTrip: t1 - t0 };
  }
  return { d: best!.d, offset: best!.offset };
}

/** Follows one agent's backup to a terminal state; reconnects when the stream drops. */
async function follow(
  a: AgentHandle,
  id: string,
  deadlineMs: number,
  reporter: BackupReporter,
  last: Map<string, BackupStatus>,
  signal?: AbortSignal,
): Promise<BackupStatus> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    // A dropped stream is reopened; six failures in a row, or the deadline, end the follow.
    await retry(() => a.watch(id, until - Date.now(), (s) => {
      last.set(a.node, s);
      reporter.node(a.node, s);
    }, signal), { attempts: 6, baseDelayMs: 1000, retryable: () => Date.now() < until, signal });
    const s = last.get(a.node);
    if (s && TERMINAL.has(s.state)) return s;
    if (signal?.aborted) throw new Error('interrupted');
  }
}
