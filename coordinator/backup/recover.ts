/**
 * Recovery of backup runs whose coordinator died (kill -9, power loss, OOM): every journal entry
 * that did not finish is driven to one of two ends, never left between them:
 *   - complete: Commit reached every agent and every one shipped its part; the manifest is
 *     written as the run would have (after reading back and checking every part), or was already;
 *   - removed: Abort on every agent (each undoes its snapshot, its partial upload, the
 *     Elasticsearch snapshot) and the set's folder goes.
 * A run that cannot be decided yet (an agent unreachable after Commit) stays in the journal and is
 * tried again by the next `tandem backup` or `tandem recover`. Runs under the backup lock, so no
 * live coordinator is working on these ids.
 */
import * as grpc from '@grpc/grpc-js';
import type { Destination } from '../../shared/destination';
import { errorMessage } from '../../shared/errors';
import { AgentState, type BackupStatus, type DescribeResponse } from '../../shared/generated/tandem/v2/agent';
import { setTrustOf } from '../signing';
import { RpcError } from '../../shared/rpc/call';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { abortEverywhere, describeAbort } from './abort';
import type { Journal, JournalEntry } from './journal';
import { writeManifest } from './manifest-writer';
import { manifestVerdict } from '../sets/trust';
import { describeWithOffset } from './two-phase';

/** What recovery did with one run. */
export interface Recovered {
  id: string;
  /** The step the dead coordinator had reached. */
  from: string;
  /** complete: the set was finished; removed: aborted everywhere and deleted; pending: to be tried again. */
  result: 'complete' | 'removed' | 'pending';
  reason: string;
}

const ACTIVE = new Set([AgentState.COMMITTED, AgentState.SHIPPING]);

/** Recovers every unfinished run of the journal, oldest first, at `dest`, the destination the verb opened. */
export async function recoverRuns(fleet: FleetConfig, dest: Destination, agents: readonly AgentHandle[], journal: Journal, say: (m: string) => void): Promise<Recovered[]> {
  const out: Recovered[] = [];
  for (const entry of journal.unfinished((w) => say(`warning: ${w}`))) {
    say(`recovering backup ${entry.backupId}: its coordinator (pid ${entry.pid} on ${entry.host}) stopped at step ${entry.step}`);
    let r: Recovered;
    try {
      r = await recoverOne(fleet, dest, agents, journal, entry, say);
    } catch (err) {
      r = { id: entry.backupId, from: entry.step, result: 'pending', reason: errorMessage(err) };
    }
    say(`  ${r.id}: ${r.result}${r.reason ? ` (${r.reason})` : ''}`);
    out.push(r);
  }
  return out;
}

async function recoverOne(fleet: FleetConfig, dest: Destination, agents: readonly AgentHandle[], journal: Journal, entry: JournalEntry, say: (m: string) => void): Promise<Recovered> {
  const id = entry.backupId;
  // A pending removal is "cleaning" from then on: the set will never be completed.
  const done = (result: Recovered['result'], reason: string, removing = false): Recovered => {
    if (result === 'complete') journal.step(entry, 'complete', `recovered: ${reason}`);
    else if (result === 'removed') journal.step(entry, 'aborted', `recovered: ${reason}`);
    else journal.step(entry, removing ? 'cleaning' : entry.step, `recovery pending: ${reason}`);
    return { id, from: entry.step, result, reason };
  };
  const remove = async (why: string): Promise<Recovered> => {
    const a = await abortEverywhere(fleet, dest, agents, id, `recovery of a run whose coordinator died: ${why}`);
    if (a.kept.length) return done('complete', `${why}; but the set has a manifest: kept`);
    if (a.unreached.length || a.leftover) return done('pending', why + describeAbort(id, a), true);
    return done('removed', why);
  };

  // Before Commit, nothing was cut: undo everywhere (a prepared agent's lease would, later).
  if (entry.step === 'preparing') return remove('it died before Commit');
  if (entry.step === 'cleaning') return remove(entry.reason || 'its abort had not reached every agent');

  // Commit may have been sent. The manifest is written last and atomically: if it is there and signed, the set is whole.
  // One that is there unsigned was not written by this run: the recovery goes on, and writes its own.
  if ((await manifestVerdict(dest, id, setTrustOf(fleet)))?.kind === 'trusted') return done('complete', 'its manifest had been written');

  let statuses = await statusEverywhere(agents, id, fleet.backup.commitTimeoutMs);
  const unreachable = [...statuses].filter(([, s]) => s instanceof Error);
  if (unreachable.length) {
    return done('pending', `cannot tell what ${unreachable.map(([n, e]) => `${n} holds (${errorMessage(e)})`).join(', ')}; run 'tandem recover' once it answers, or 'tandem recover --abandon ${id}' if it is gone for good`);
  }
  // Agents still shipping finish first: their Commit arrived, and their part is most of the work.
  const shipping = agents.filter((a) => ACTIVE.has((statuses.get(a.node) as BackupStatus | null)?.state ?? -1));
  if (shipping.length) {
    say(`  ${id}: waiting for ${shipping.map((a) => a.node).join(', ')} to finish shipping`);
    await Promise.allSettled(shipping.map((a) => untilFinished(a, id, fleet.backup.shipTimeoutMs)));
    statuses = await statusEverywhere(agents, id, fleet.backup.commitTimeoutMs);
  }
  const notDone = agents.filter((a) => (statuses.get(a.node) as BackupStatus | null)?.state !== AgentState.DONE);
  if (notDone.length) {
    const words = notDone.map((a) => {
      const s = statuses.get(a.node);
      return `${a.node} ${s === null ? 'never got it' : s instanceof Error ? `unreachable (${errorMessage(s)})` : AgentState[s!.state].toLowerCase()}`;
    });
    return remove(`not every node shipped its part: ${words.join(', ')}`);
  }

  // Every node shipped: finish the set as the run would have.
  const info = new Map<string, { d: DescribeResponse; offset: number }>();
  for (const a of agents) info.set(a.node, await describeWithOffset(a, fleet.backup.commitTimeoutMs));
  const last = new Map([...statuses].map(([n, s]) => [n, s as BackupStatus]));
  try {
    const m = await writeManifest(fleet, dest, id, entry.startedMs, entry.options, agents, info, last, entry.parent);
    return done('complete', `every node had shipped; manifest written (${m.files.length} files, snapshots ${m.snapshotSpreadMs} ms apart)`);
  } catch (err) {
    return remove(`its parts do not make a set: ${errorMessage(err)}`);
  }
}

/** Each agent's status of `id`: a status, null when the agent does not know the id, or the error. */
async function statusEverywhere(agents: readonly AgentHandle[], id: string, deadlineMs: number): Promise<Map<string, BackupStatus | null | Error>> {
  const all = await Promise.all(agents.map(async (a) => {
    try {
      return [a.node, await a.status(id, deadlineMs)] as const;
    } catch (err) {
      if (err instanceof RpcError && err.code === grpc.status.NOT_FOUND) return [a.node, null] as const;
      return [a.node, err instanceof Error ? err : new Error(String(err))] as const;
    }
  }));
  return new Map<string, BackupStatus | null | Error>(all);
}

/** Follows one agent until its backup leaves committed/shipping, or the deadline passes. */
async function untilFinished(a: AgentHandle, id: string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const s = await a.status(id, 30_000).catch(() => null);
    if (s && !ACTIVE.has(s.state)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
