/**
 * Handles to the fleet's agents: one gRPC client per agent, every call through the promise
 * wrapper with a deadline and an AbortSignal.
 */
import * as grpc from '@grpc/grpc-js';
import { AgentClient, AgentService, type BackupPlan, type BackupStatus, type DescribeResponse, type PrepareResponse, type CommitResponse, type AbortResponse, type ClearRestoreResponse, type DeleteSnapshotResponse, type EndRestoreResponse, type RestoreEvent, type RestoreRequest, type RestoreResult, type RestoreStatus, type RoleProgress } from '../shared/generated/tandem/v2/agent';
import { openUnary, RpcError, serverStream, unary, type OpenedUnary } from '../shared/rpc/call';
import { MESSAGE_LIMITS } from '../shared/rpc/limits';
import { fleetClientCredentials, type AgentChannelSetup, type TlsFiles } from '../shared/rpc/tls';
import type { AgentEntry } from './config';

/** One agent as the coordinator sees it. */
export class AgentHandle {
  private readonly client: grpc.Client;
  constructor(readonly entry: AgentEntry, channel: (address: string, node: string) => AgentChannelSetup) {
    const { credentials, options } = channel(entry.address, entry.node);
    this.client = new AgentClient(entry.address, credentials, { ...options, ...MESSAGE_LIMITS, 'grpc.enable_retries': 0 });
  }
  get node(): string {
    return this.entry.node;
  }
  /**
   * Resolves once the channel is connected (TCP and TLS done), connecting it if it went idle
   * (grpc-js drops a channel unused for 30 min: a long Prepare, with --repair, can outlast that).
   * At once when it is connected already.
   */
  connected(deadlineMs: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.waitForReady(Date.now() + deadlineMs, (err) => (err ? reject(new RpcError(this.node, 'connect', grpc.status.UNAVAILABLE, err.message)) : resolve())),
    );
  }
  describe(deadlineMs: number, signal?: AbortSignal): Promise<DescribeResponse> {
    return unary(this.node, this.client, 'describe', {}, { deadlineMs, signal });
  }
  prepare(plan: BackupPlan, deadlineMs: number, signal?: AbortSignal): Promise<PrepareResponse> {
    return unary(this.node, this.client, 'prepare', { plan }, { deadlineMs, signal });
  }
  commit(backupId: string, deadlineMs: number, signal?: AbortSignal): Promise<CommitResponse> {
    return unary(this.node, this.client, 'commit', { backupId }, { deadlineMs, signal });
  }
  /**
   * Opens this agent's Commit call with its request, without ending it (see openUnary): the round
   * opens every agent's first, then ends them all in one burst, so that no agent's Commit waits
   * behind the others' TLS and HTTP/2 work, on either side.
   */
  openCommit(backupId: string, deadlineMs: number): OpenedUnary<CommitResponse> {
    return openUnary(this.node, this.client, AgentService.commit, { backupId }, { deadlineMs });
  }
  abort(backupId: string, reason: string, deadlineMs: number): Promise<AbortResponse> {
    return unary(this.node, this.client, 'abort', { backupId, reason }, { deadlineMs });
  }
  status(backupId: string, deadlineMs: number): Promise<BackupStatus> {
    return unary(this.node, this.client, 'getStatus', { backupId }, { deadlineMs });
  }
  watch(backupId: string, deadlineMs: number, onStatus: (s: BackupStatus) => void, signal?: AbortSignal): Promise<void> {
    return serverStream(this.node, this.client, 'watch', { backupId }, { deadlineMs, signal }, onStatus);
  }
  /** Runs one restore phase; progress events go to onProgress, the last event's result is returned. */
  async restore(request: RestoreRequest, deadlineMs: number, signal?: AbortSignal, onProgress?: (p: RoleProgress) => void): Promise<RestoreResult> {
    let result: RestoreResult | undefined;
    await serverStream<RestoreRequest, RestoreEvent>(this.node, this.client, 'restore', request, { deadlineMs, signal }, (e) => {
      if (e.event?.$case === 'result') result = e.event.value;
      else if (e.event?.$case === 'progress') onProgress?.(e.event.value);
    });
    if (!result) throw new RpcError(this.node, 'restore', grpc.status.INTERNAL, 'the restore stream ended without a result');
    return result;
  }
  /** Where restore `restoreId` is on this agent; NOT_FOUND when it ran no phase of it since it started. */
  restoreStatus(restoreId: string, deadlineMs: number): Promise<RestoreStatus> {
    return unary(this.node, this.client, 'getRestoreStatus', { restoreId }, { deadlineMs });
  }
  /** Deletes a tandem snapshot in the agent's Elasticsearch repository; an absent one is success (existed false). */
  /** Removes what restore `restoreId` left on this agent (its record, markers, working folders). */
  clearRestore(restoreId: string, deadlineMs: number, signal?: AbortSignal): Promise<ClearRestoreResponse> {
    return unary(this.node, this.client, 'clearRestore', { restoreId }, { deadlineMs, signal });
  }
  /** Tells this agent that the run of restore `restoreId` ended: it stops holding backups out for it. */
  endRestore(restoreId: string, deadlineMs: number, signal?: AbortSignal): Promise<EndRestoreResponse> {
    return unary(this.node, this.client, 'endRestore', { restoreId }, { deadlineMs, signal });
  }
  deleteSnapshot(repository: string, snapshot: string, deadlineMs: number, signal?: AbortSignal): Promise<DeleteSnapshotResponse> {
    return unary(this.node, this.client, 'deleteSnapshot', { repository, snapshot }, { deadlineMs, signal });
  }
  close(): void {
    this.client.close();
  }
}

/** Opens a handle to every agent of the fleet. */
export function openFleet(agents: readonly AgentEntry[], tls: TlsFiles | undefined): AgentHandle[] {
  const channel = fleetClientCredentials(tls);
  return agents.map((a) => new AgentHandle(a, channel));
}
