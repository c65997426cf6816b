/**
 * The agent's Prometheus metrics (prom-client), served on their own port when the configuration
 * has `metrics: {listen: 127.0.0.1:9464}`: off by default. Plain HTTP only on a loopback address;
 * any other address needs `tls: true`, which serves HTTPS with the agent's certificate and
 * requires a client certificate from the fleet's CA checked as the gRPC port checks it: issued
 * for clientAuth and carrying one of `callerNames` (default the coordinator's name). Plain HTTP
 * on loopback has no caller to check: every local user can read it. The controllers
 * report through the small AgentMetrics interface; NO_METRICS does nothing.
 */
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { TLSSocket } from 'node:tls';
import { hostPort, nodeName } from '../shared/config/common';
import { refusal } from './rpc/authorize';
import { isLoopback, readTlsFiles, type TlsFiles } from '../shared/rpc/tls';
import { lazyModule } from '../shared/lazy-module';

/** prom-client, loaded only by an agent that serves /metrics (about 12 MB). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const promClient = lazyModule(() => require('prom-client') as typeof PromClient);

/** How a backup ended on this agent: done, failed (commit or ship), or aborted (Abort, a lease, a restart). */
export type BackupOutcome = 'success' | 'failure' | 'aborted';
/** How a restore ended on this agent: every phase succeeded, or one failed or reported problems. */
export type RestoreOutcome = 'success' | 'failure';
/** What the controllers tell the metrics. */
export interface AgentMetrics {
  /** A backup reached its end on this agent (counted once per backup id). */
  backupEnded(outcome: BackupOutcome, atMs: number): void;
  /** A restore ended on this agent (at its cleanup phase). */
  restoreEnded(outcome: RestoreOutcome, atMs: number): void;
  /** One phase of a backup (prepare, commit, ship) or restore (check, fetch, …) took this long. */
  phase(operation: 'backup' | 'restore', phase: string, seconds: number): void;
  /** The cut of a backup on this agent: the instant its roles took their snapshot. */
  snapshot(backupId: string, atMs: number): void;
  /** Bytes a backup stored: the roles' archives and records, and everything written to the destination. */
  shipped(archivedBytes: number, shippedBytes: number): void;
  /** After each look of the commitlog capture: bytes in cdc_raw, durable bytes not stored yet, seconds since all were stored. */
  captured(r: { cdcRawBytes: number; unshippedBytes: number; lagSeconds: number }): void;
  /** The commitlog capture found gaps. */
  gaps(n: number): void;
}

/** Metrics switched off. */
export const NO_METRICS: AgentMetrics = {
  backupEnded: () => undefined,
  restoreEnded: () => undefined,
  phase: () => undefined,
  snapshot: () => undefined,
  shipped: () => undefined,
  captured: () => undefined,
  gaps: () => undefined,
};

/** The `metrics` section of the agent's configuration. */
export const metricsSettings = z
  .strictObject({
    /** host:port of /metrics; a loopback address unless tls is true. */
    listen: hostPort,
    /** HTTPS with the agent's certificate, client certificates from the fleet's CA required. */
    tls: z.boolean().default(false),
    /**
     * With tls: the names (CN or DNS SAN) a scraper's clientAuth certificate must carry, e.g. the
     * Prometheus server's; default: tls.coordinatorName only.
     */
    callerNames: z.array(nodeName).min(1).max(16).optional(),
  })
  .refine((m) => m.tls || isLoopback(m.listen), { message: 'a non-loopback metrics.listen needs tls: true (plain /metrics is served on loopback only)', path: ['listen'] });

/** Phase durations, from a fraction of a second (commit) to hours (ship). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 10800, 21600];

/** The agent's registry and the AgentMetrics that feed it. */
export function createAgentMetrics(node: string): { registry: Registry; metrics: AgentMetrics } {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = promClient();
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const backups = new Counter({ name: 'tandem_agent_backups_total', help: 'Backups that ended on this agent, by outcome (success, failure, aborted)', labelNames: ['outcome'], registers });
  const restores = new Counter({ name: 'tandem_agent_restores_total', help: 'Restores that ended on this agent, by outcome (success, failure)', labelNames: ['outcome'], registers });
  const phases = new Histogram({ name: 'tandem_agent_phase_duration_seconds', help: 'Duration of each backup or restore phase on this agent', labelNames: ['operation', 'phase'], buckets: DURATION_BUCKETS, registers });
  const archived = new Counter({ name: 'tandem_agent_bytes_archived_total', help: "Bytes of the files the roles made for backup sets (archives, snapshots' records, listings)", registers });
  const shipped = new Counter({ name: 'tandem_agent_bytes_shipped_total', help: 'Bytes this agent stored at destinations, attachments of file listings included', registers });
  const lastSuccess = new Gauge({ name: 'tandem_agent_last_success_timestamp_seconds', help: 'When a backup or restore last succeeded on this agent (Unix time)', labelNames: ['operation'], registers });
  const snapshotAt = new Gauge({ name: 'tandem_agent_last_snapshot_timestamp_seconds', help: "The instant of this agent's last backup cut (Unix time, ms precision)", registers });
  const snapshotInfo = new Gauge({ name: 'tandem_agent_last_snapshot_info', help: "The backup id of this agent's last cut (value 1)", labelNames: ['backup_id'], registers });
  const cdcRaw = new Gauge({ name: 'tandem_agent_capture_cdc_raw_bytes', help: "Bytes of the commitlog segments in Cassandra's cdc_raw (weighed against cdc_total_space)", registers });
  const unshipped = new Gauge({ name: 'tandem_agent_capture_unshipped_bytes', help: 'Durable commitlog bytes in cdc_raw not stored at the destination yet', registers });
  const lag = new Gauge({ name: 'tandem_agent_capture_lag_seconds', help: 'Seconds since every durable commitlog byte was last stored at the destination (the capture\'s RPO now)', registers });
  const gaps = new Counter({ name: 'tandem_agent_capture_gaps_total', help: 'Gaps the commitlog capture found (segments lost before they were stored, skipped segment ids)', registers });
  gaps.inc(0);
  // Counters start at 0 for every outcome, so that rate() and increase() see the first one.
  for (const o of ['success', 'failure', 'aborted']) backups.inc({ outcome: o }, 0);
  for (const o of ['success', 'failure']) restores.inc({ outcome: o }, 0);
  return {
    registry,
    metrics: {
      backupEnded(outcome, atMs) {
        backups.inc({ outcome });
        if (outcome === 'success') lastSuccess.set({ operation: 'backup' }, atMs / 1000);
      },
      restoreEnded(outcome, atMs) {
        restores.inc({ outcome });
        if (outcome === 'success') lastSuccess.set({ operation: 'restore' }, atMs / 1000);
      },
      phase: (operation, phase, seconds) => phases.observe({ operation, phase }, seconds),
      snapshot(backupId, atMs) {
        snapshotAt.set(atMs / 1000);
        snapshotInfo.reset();
        snapshotInfo.set({ backup_id: backupId }, 1);
      },
      shipped(archivedBytes, shippedBytes) {
        archived.inc(archivedBytes);
        shipped.inc(shippedBytes);
      },
      captured(r) {
        cdcRaw.set(r.cdcRawBytes);
        unshipped.set(r.unshippedBytes);
        lag.set(r.lagSeconds);
      },
      gaps: (n) => gaps.inc(n),
    },
  };
}

/**
 * Serves GET /metrics from the registry on host:port; resolves once listening. With `tls`, HTTPS
 * whose every request is refused (403) unless the client certificate is issued for clientAuth and
 * names one of `tls.callerNames`: any certificate of the fleet's CA (an agent's, one issued for
 * something else) would pass the handshake alone.
 */
export async function serveMetrics(listen: string, registry: Registry, tls?: TlsFiles & { callerNames: readonly string[] }): Promise<{ server: Server; port: number }> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  const handler: RequestListener = (req, res) => {
    if (tls) {
      const cert = (req.socket as TLSSocket).getPeerCertificate();
      const refused = tls.callerNames.map((name) => refusal(cert, name));
      if (refused.every((r) => r !== null)) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end(`${refused[0]!.details}\n`);
        return;
      }
    }
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  };
  const server: Server = tls ? createHttpsServer({ ...readTlsFiles(tls), requestCert: true, rejectUnauthorized: true }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(listen.slice(i + 1)), host, () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}
