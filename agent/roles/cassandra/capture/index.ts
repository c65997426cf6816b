/** The continuous capture of Cassandra's commitlog (point-in-time recovery): started by the agent when roles.cassandra.capture.enabled. */
import type { DestinationOpener } from '../../../../shared/destination';
import type { Logger } from '../../../../shared/log';
import type { CassandraSettings } from '../config';
import { CommitlogCapture, type CaptureMetrics } from './capture';

export { CommitlogCapture, type CaptureMetrics, type CaptureOptions, type LookReport } from './capture';

/**
 * Starts the capture the cassandra role's settings ask for, or returns null when they ask for
 * none (no cassandra role, or capture.enabled false).
 */
export function startCapture(cassandra: CassandraSettings | undefined, o: { node: string; stateDir: string; open: DestinationOpener; log: Logger; metrics: CaptureMetrics }): CommitlogCapture | null {
  const c = cassandra?.capture;
  if (!c?.enabled || !c.destination) return null;
  const capture = new CommitlogCapture({
    cdcRawDirectory: c.cdcRawDirectory,
    intervalMs: c.captureIntervalMs,
    stateDir: o.stateDir,
    target: { dest: o.open(c.destination), cluster: c.cluster, node: o.node },
    log: o.log,
    metrics: o.metrics,
  });
  capture.start();
  return capture;
}
export { assembleSegment } from './assemble';
