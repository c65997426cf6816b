/**
 * One agent's services, started in this process: its backup and restore controllers, the
 * optional /metrics port and the gRPC server. The daemon runs one; a host process can run
 * several side by side (each with its own configuration, state folder and port).
 */
import type * as grpc from '@grpc/grpc-js';
import type { AgentServer } from '../shared/generated/tandem/v2/agent';
import type { Logger } from '../shared/log';
import { BackupController } from './backup/controller';
import { StateStore } from './backup/store';
import type { AgentConfig } from './config';
import { agentDestinationOpener } from './destination-credentials';
import { HealthMonitor } from './health/monitor';
import { createAgentMetrics, NO_METRICS, serveMetrics } from './metrics';
import { RestoreController } from './restore/controller';
import type { Role } from './roles/role';
import { startCapture } from './roles/cassandra/capture';
import type { CassandraSettings } from './roles/cassandra/config';
import { startFilesCapture } from './roles/files/capture';
import type { FilesSettings } from './roles/files/config';
import { agentService, startServer } from './rpc/server';

/** Options of serveAgent. */
export interface ServeOptions {
  /** Serve without TLS (loopback only, checked by the server); default false. */
  insecure?: boolean;
  /** Wraps the service's handlers before the server takes them; default none. */
  wrapService?: (service: AgentServer) => AgentServer;
}

/** A running agent. */
export interface RunningAgent {
  /** The bound gRPC port (the configured one, or the one the system chose for port 0). */
  port: number;
  /** The bound /metrics port, or null without metrics. */
  metricsPort: number | null;
  /** Stops gracefully: running work is aborted (cleaned up at the next start), calls in flight get up to `forceAfterMs` (default 10 s). */
  stop(forceAfterMs?: number): Promise<void>;
}

/** Starts one agent with its roles (createRoles): recovers what a previous run left, then serves. Resolves once it listens. */
export async function serveAgent(config: AgentConfig, roles: readonly Role[], log: Logger, opts: ServeOptions = {}): Promise<RunningAgent> {
  const exported = config.metrics ? createAgentMetrics(config.node) : null;
  const metrics = exported?.metrics ?? NO_METRICS;
  const openDestination = agentDestinationOpener(config.destinationCredentials);
  const controller = new BackupController(config.node, roles, new StateStore(config.stateDir), log, metrics, Date.now, openDestination);
  await controller.recover();
  // The commitlog capture runs beside the roles, on its own clock: off unless roles.cassandra.capture.enabled.
  const capture = startCapture(config.roles.cassandra as CassandraSettings | undefined, { node: config.node, stateDir: config.stateDir, tls: config.tls, open: openDestination, log: log.child({ component: 'capture' }), metrics });
  // So does the file store's: off unless roles.files.capture.enabled (a folder store only).
  const filesCapture = startFilesCapture(config.roles.files as FilesSettings | undefined, { node: config.node, stateDir: config.stateDir, tls: config.tls, open: openDestination, log: log.child({ component: 'files-capture' }) });
  const metricsServer = config.metrics && exported ? await serveMetrics(config.metrics.listen, exported.registry, config.metrics.tls && config.tls ? { ...config.tls, callerNames: config.metrics.callerNames ?? [config.tls.coordinatorName] } : undefined) : null;
  if (metricsServer) log.info({ listen: config.metrics!.listen, port: metricsServer.port, tls: config.metrics!.tls }, 'serving /metrics');
  const service = agentService(config.node, roles, controller, new RestoreController(config.node, roles, config.stateDir, controller, log, metrics, Date.now, openDestination), log);
  const health = new HealthMonitor(roles, { intervalMs: config.health.intervalSeconds * 1000, timeoutMs: config.health.timeoutSeconds * 1000 }, log);
  const { server, port } = await startServer(config.listen, opts.insecure ? undefined : config.tls, opts.wrapService ? opts.wrapService(service) : service, log, health);
  health.start();
  log.info({ listen: config.listen, port, roles: roles.map((r) => r.name), tls: !opts.insecure, metricsPort: metricsServer?.port ?? null }, 'agent ready');
  return {
    port,
    metricsPort: metricsServer?.port ?? null,
    stop: async (forceAfterMs = 10_000) => {
      controller.close();
      health.stop();
      metricsServer?.server.close();
      await capture?.stop();
      await filesCapture?.stop();
      return shutdown(server, forceAfterMs);
    },
  };
}

/** Lets calls in flight end, then forces the server shut after `forceAfterMs`. */
function shutdown(server: grpc.Server, forceAfterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), forceAfterMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
