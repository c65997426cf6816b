/** The continuous capture of Cassandra's commitlog (point-in-time recovery): started by the agent when roles.cassandra.capture.enabled. */
import type { DestinationOpener } from '../../../../shared/destination';
import type { Logger } from '../../../../shared/log';
import type { CassandraSettings } from '../config';
import { captureNeedsTls } from '../../../../shared/config/capture';
import { ConfigError } from '../../../../shared/errors';
import { CommitlogCapture, type CaptureMetrics } from './capture';
import type { CaptureSigning } from './seal';

export { CommitlogCapture, type CaptureMetrics, type CaptureOptions, type LookReport } from './capture';

/**
 * Starts the capture the cassandra role's settings ask for, or returns null when they ask for
 * none (no cassandra role, or capture.enabled false).
 */
export function startCapture(cassandra: CassandraSettings | undefined, o: { node: string; stateDir: string; tls: CaptureSigning | undefined; open: DestinationOpener; log: Logger; metrics: CaptureMetrics }): CommitlogCapture | null {
  const c = cassandra?.capture;
  if (!c?.enabled || !c.destination) return null;
  // The agent's configuration refuses a capture without tls; this is the same rule, for a caller that built its settings by hand.
  if (!o.tls) throw new ConfigError(captureNeedsTls('cassandra'));
  const capture = new CommitlogCapture({
    cdcRawDirectory: c.cdcRawDirectory,
    intervalMs: c.captureIntervalMs,
    stateDir: o.stateDir,
    target: { dest: o.open(c.destination), cluster: c.cluster, node: o.node },
    signing: o.tls,
    recipients: c.recipients,
    log: o.log,
    metrics: o.metrics,
  });
  capture.start();
  return capture;
}
export { assembleSegment, type CaptureReader } from './assemble';
export type { CaptureSigning } from './seal';
