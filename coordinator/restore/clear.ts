/**
 * `tandem agents --clear-restore RESTORE_ID`: removes what an abandoned restore left on every agent
 * (its record restore.json, the markers of its finished phases, its working folders with fetched
 * archives), which nothing else clears: only a restore's cleanup phase does. The restore can then no
 * longer be resumed; a run with the same id would start from its first phase.
 */
import * as grpc from '@grpc/grpc-js';
import { errorMessage, PreconditionError } from '../../shared/errors';
import { RpcError } from '../../shared/rpc/call';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { endRestoreRecord, readRestoreRecord } from './record';

/** Deadline of ClearRestore on one agent, ms: it removes a folder that may hold gigabytes of archives. */
export const CLEAR_RESTORE_TIMEOUT_MS = 120_000;

/** What one agent answered. */
export interface ClearedOn {
  node: string;
  /** cleared: it held the restore and removed it; none: it held nothing of it; refused: the restore runs there; unreachable. */
  result: 'cleared' | 'none' | 'refused' | 'unreachable';
  /** The backup the restore was restoring (cleared), or why not (refused, unreachable). */
  detail: string;
}

/**
 * ClearRestore on every agent. Refused at once when this coordinator's own record says the restore
 * is running (its process is alive); once cleared everywhere, that record is marked ended.
 */
export async function clearRestore(fleet: FleetConfig, agents: readonly AgentHandle[], restoreId: string, warn: (m: string) => void): Promise<ClearedOn[]> {
  const own = readRestoreRecord(fleet.stateDir, warn);
  if (own && own.record.restoreId === restoreId && own.record.ended === null && !own.interrupted) {
    throw new PreconditionError(`restore ${restoreId} is running from this coordinator (pid ${own.record.pid} on ${own.record.host}): stop it first (Ctrl-C), then clear it`);
  }
  const out = await Promise.all(agents.map(async (a): Promise<ClearedOn> => {
    try {
      const r = await a.clearRestore(restoreId, CLEAR_RESTORE_TIMEOUT_MS);
      return { node: a.node, result: r.existed ? 'cleared' : 'none', detail: r.backupId };
    } catch (err) {
      // The agent answered, and said no (the restore runs there): anything else is not hearing it.
      const refused = err instanceof RpcError && (err.code === grpc.status.FAILED_PRECONDITION || err.code === grpc.status.INVALID_ARGUMENT);
      return { node: a.node, result: refused ? 'refused' : 'unreachable', detail: errorMessage(err) };
    }
  }));
  if (out.every((o) => o.result === 'cleared' || o.result === 'none')) {
    endRestoreRecord(fleet.stateDir, restoreId, `cleared with 'tandem agents --clear-restore': not resumable`, warn);
  }
  return out;
}
