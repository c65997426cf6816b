/** The continuous capture of a folder file store (point-in-time recovery): started by the agent when roles.files.capture.enabled. */
import type { CaptureSigning } from '../../../../shared/capture/seal';
import type { DestinationOpener } from '../../../../shared/destination';
import { captureNeedsTls } from '../../../../shared/config/capture';
import { ConfigError } from '../../../../shared/errors';
import type { Logger } from '../../../../shared/log';
import { resolveFilesSettings, type FilesSettings } from '../config';
import { FilesCapture } from './capture';

export { FilesCapture, type FilesCaptureOptions, type FilesLookReport } from './capture';

/**
 * Starts the capture the files role's settings ask for, or returns null when they ask for none
 * (no files role, a bucket store, or capture.enabled false).
 */
export function startFilesCapture(files: FilesSettings | undefined, o: { node: string; stateDir: string; tls: CaptureSigning | undefined; open: DestinationOpener; log: Logger }): FilesCapture | null {
  if (files?.store !== 'localfs') return null;
  const c = files.capture;
  if (!c?.enabled || !c.destination) return null;
  // The agent's configuration refuses a capture without tls; this is the same rule, for a caller that built its settings by hand.
  if (!o.tls) throw new ConfigError(captureNeedsTls('files'));
  const resolved = resolveFilesSettings(files);
  if (resolved.store !== 'localfs') return null;
  const capture = new FilesCapture({
    location: resolved.location,
    intervalMs: c.intervalMs,
    stateDir: o.stateDir,
    target: { dest: o.open(c.destination), cluster: c.cluster, node: o.node },
    signing: o.tls,
    recipients: c.recipients,
    log: o.log,
  });
  capture.start();
  return capture;
}
