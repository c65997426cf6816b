/** Converts between the agent's records and the generated protocol messages. */
import { AgentState, type BackupStatus } from '../../shared/generated/tandem/v2/agent';
import type { BackupRecord, BackupState } from '../backup/state';

const STATES: Record<BackupState, AgentState> = {
  prepared: AgentState.PREPARED,
  committed: AgentState.COMMITTED,
  shipping: AgentState.SHIPPING,
  done: AgentState.DONE,
  aborted: AgentState.ABORTED,
  failed: AgentState.FAILED,
};

/** The protocol's state for a record, IDLE when there is none. */
export function agentState(rec: BackupRecord | null): AgentState {
  return rec ? STATES[rec.state] : AgentState.IDLE;
}

/** The BackupStatus message of a record. */
export function backupStatus(rec: BackupRecord): BackupStatus {
  return {
    backupId: rec.plan.backupId,
    state: STATES[rec.state],
    progress: rec.progress,
    error: rec.error,
    updatedUnixMs: rec.updatedAt,
    leaseExpiresUnixMs: rec.leaseExpiresAt,
    committedUnixMs: rec.committedAt,
    part: rec.state === 'done' && rec.part ? rec.part : undefined,
    files: rec.stored?.files ?? 0,
    bytes: rec.stored?.bytes ?? 0,
  };
}
