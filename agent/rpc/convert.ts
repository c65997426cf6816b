/** Converts between the agent's records and the generated protocol messages. */
import { AgentState, type BackupStatus, type RestoreStatus, type RoleProgress } from '../../shared/generated/tandem/v2/agent';
import { toWirePhase } from '../../shared/wire/restore';
import type { BackupRecord, BackupState } from '../backup/state';
import type { Activity } from '../restore/controller';
import type { ProgressUpdate } from '../roles/role';

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

/** The RoleProgress message of a role's progress update (absent counts are 0). */
export function roleProgress(role: string, u: ProgressUpdate): RoleProgress {
  return { role, phase: u.phase, bytesDone: u.bytesDone ?? 0, bytesTotal: u.bytesTotal ?? 0, filesDone: u.filesDone ?? 0, filesTotal: u.filesTotal ?? 0 };
}

/** The RestoreStatus message of the restore controller's activity. */
export function restoreStatus(a: Activity): RestoreStatus {
  return {
    restoreId: a.restoreId,
    backupId: a.backupId,
    phase: toWirePhase(a.phase),
    running: a.endedAt === null,
    ok: a.ok,
    progress: [...a.progress].map(([role, u]) => roleProgress(role, u)),
    startedUnixMs: a.startedAt,
    endedUnixMs: a.endedAt ?? 0,
    error: a.error,
  };
}
