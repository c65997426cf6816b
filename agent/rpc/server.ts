/**
 * The agent's gRPC service: a thin layer over the BackupController. Every handler validates
 * its input through the controller and maps errors to status codes in one place.
 */
import * as grpc from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { AgentService, type AgentServer, type RoleProgress } from '../../shared/generated/tandem/v2/agent';
import { throttleEach } from '../../shared/progress';
import { MESSAGE_LIMITS } from '../../shared/rpc/limits';
import { serverCredentials, type TlsFiles } from '../../shared/rpc/tls';
import { toServiceError } from '../../shared/rpc/status';
import type { Logger } from '../../shared/log';
import { announceCommit } from './announce';
import { coordinatorOnly } from './authorize';
import type { BackupController } from '../backup/controller';
import type { RestoreController } from '../restore/controller';
import type { BackupRecord } from '../backup/state';
import { isActive, isTerminal } from '../backup/state';
import { isSnapshotDeleter, type ProgressUpdate, type Role } from '../roles/role';
import { ConflictError, NotFoundError, NotImplementedError } from '../../shared/errors';
import { esSnapshotFor } from '../../shared/names';
import { agentState, backupStatus, restoreStatus, roleProgress } from './convert';
import { PROTOCOL_VERSION, TANDEM_VERSION } from '../../shared/version';

type Handler<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** `expected` tells an answer that is no failure of the agent (logged at debug, not as a warning). */
function unaryHandler<Req, Res>(log: Logger, method: string, fn: (req: Req) => Promise<Res>, expected: (err: unknown) => boolean = () => false): Handler<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err) => {
        log[expected(err) ? 'debug' : 'warn']({ method, err: err instanceof Error ? err.message : String(err) }, 'request failed');
        callback(toServiceError(err));
      },
    );
  };
}

/** Builds the service implementation. */
export function agentService(
  node: string,
  roles: readonly Role[],
  controller: BackupController,
  restores: RestoreController,
  log: Logger,
): AgentServer {
  // Versions come from slow tools (nodetool is a JVM): gathered once in the background, so that
  // Describe always answers at once with what is known.
  const versions: Record<string, string> = Object.fromEntries(roles.map((r) => [r.name, 'pending']));
  for (const r of roles) {
    r.versions().then(
      (v) => {
        delete versions[r.name];
        Object.assign(versions, v);
      },
      () => (versions[r.name] = 'unknown'),
    );
  }
  return {
    describe: unaryHandler(log, 'Describe', async () => {
      const cur = controller.current;
      return {
        node,
        hostname: hostname(),
        roles: roles.map((r) => r.name),
        agentVersion: TANDEM_VERSION,
        protocolVersion: PROTOCOL_VERSION,
        clockUnixMs: Date.now(),
        versions: { ...versions },
        state: agentState(cur),
        backupId: cur?.plan.backupId ?? '',
      };
    }),
    preflight: unaryHandler(log, 'Preflight', async (req) => {
      const vote = await controller.preflight(req.plan!);
      return { ok: vote.yes, checks: vote.checks };
    }),
    prepare: unaryHandler(log, 'Prepare', async (req) => {
      const vote = await controller.prepare(req.plan!);
      return { voteYes: vote.yes, checks: vote.checks, leaseExpiresUnixMs: vote.leaseExpiresAt, reason: vote.reason };
    }),
    commit: unaryHandler(log, 'Commit', async (req) => {
      const rec = await controller.commit(req.backupId);
      return { state: agentState(rec), committedUnixMs: rec.committedAt };
    }),
    abort: unaryHandler(log, 'Abort', async (req) => {
      const rec = await controller.abort(req.backupId, req.reason);
      return { state: agentState(rec) };
    }),
    // Before every backup the coordinator asks each agent whether it knows the new id: "no" is
    // the answer it hopes for, and a warning for it cost a fleet of 500 agents 500 log lines a run.
    getStatus: unaryHandler(log, 'GetStatus', async (req) => backupStatus(controller.status(req.backupId)), (err) => err instanceof NotFoundError),
    getRestoreStatus: unaryHandler(log, 'GetRestoreStatus', async (req) => restoreStatus(restores.status(req.restoreId))),
    clearRestore: unaryHandler(log, 'ClearRestore', async (req) => restores.clear(req.restoreId), (err) => err instanceof ConflictError),
    endRestore: unaryHandler(log, 'EndRestore', async (req) => ({ ended: restores.end(req.restoreId) })),
    deleteSnapshot: unaryHandler(log, 'DeleteSnapshot', async (req) => {
      const role = roles.find(isSnapshotDeleter);
      if (!role) throw new NotImplementedError(`${node} has no role that keeps snapshots (elasticsearch): ask the agent with the elasticsearch role`);
      const cur = controller.current;
      // A running backup's snapshot is that backup's to undo, not a prune's to delete.
      if (cur && isActive(cur.state) && esSnapshotFor(cur.plan.backupId) === req.snapshot) {
        throw new ConflictError(`snapshot ${req.snapshot} belongs to backup ${cur.plan.backupId}, which this agent is running; it is not deleted`);
      }
      const existed = await role.deleteSnapshot(req.repository, req.snapshot);
      log.info({ repository: req.repository, snapshot: req.snapshot, existed }, existed ? 'deleted a pruned set\'s Elasticsearch snapshot' : 'Elasticsearch snapshot already absent');
      return { existed };
    }),
    watch: (call) => {
      let rec: BackupRecord;
      try {
        rec = controller.status(call.request.backupId);
      } catch (err) {
        // An 'error' event sets the status and ends the stream (destroy() would drop the status).
        call.emit('error', toServiceError(err));
        return;
      }
      const send = (r: BackupRecord) => {
        if (r.plan.backupId !== call.request.backupId) return;
        call.write(backupStatus(r));
        if (isTerminal(r.state)) stop();
      };
      const stop = () => {
        controller.events.off('update', send);
        call.end();
      };
      controller.events.on('update', send);
      call.on('cancelled', () => controller.events.off('update', send));
      send(rec);
    },
    restore: (call) => {
      // A phase can take hours: it runs until done or until the coordinator cancels the call,
      // telling how far it got, throttled per role.
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort());
      const send = throttleEach((p: RoleProgress) => p.role, (p) => call.write({ event: { $case: 'progress', value: p } }));
      const progress = (role: string, u: ProgressUpdate) => send(roleProgress(role, u));
      restores.run(call.request, ac.signal, progress).then(
        (reports) => {
          call.write({ event: { $case: 'result', value: { reports } } });
          call.end();
        },
        (err) => {
          log.warn({ method: 'Restore', err: err instanceof Error ? err.message : String(err) }, 'request failed');
          // An 'error' event sets the status and ends the stream (destroy() would drop the status).
          call.emit('error', toServiceError(err));
        },
      );
    },
  };
}

/**
 * Starts the gRPC server on the configured address; resolves with the bound port. With TLS, every
 * call passes one interceptor that accepts only the coordinator's certificate, and for the health
 * service any client certificate of the fleet (authorize.ts); Commit's is then announced once its
 * request is in (announce.ts). `health`, when given, serves grpc.health.v1.Health on the same port.
 */
export async function startServer(
  listen: string,
  tls: (TlsFiles & { coordinatorName: string }) | undefined,
  service: AgentServer,
  log?: Logger,
  health?: { addTo(server: grpc.Server): void },
): Promise<{ server: grpc.Server; port: number }> {
  // The first sees a call's headers first: Commit is announced only once its caller is accepted.
  const interceptors = [
    ...(tls ? [coordinatorOnly(tls.coordinatorName, (method, details) => log?.warn({ method, err: details }, 'caller refused'))] : []),
    announceCommit(() => log?.info('a Commit call ended before its request did (its caller is gone): nothing is committed, the backup stays prepared until a Commit, an Abort or its lease')),
  ];
  const server = new grpc.Server({ 'grpc.keepalive_time_ms': 30_000, ...MESSAGE_LIMITS, interceptors });
  server.addService(AgentService, service);
  health?.addTo(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, serverCredentials(tls, listen), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}
