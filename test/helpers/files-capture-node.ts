/**
 * One node's file store capture on real files, for tests: a temporary folder stands in for
 * TheHive's folder store; the capture stores into a local-folder destination and signs with the
 * agent certificate of files1 (issue it first: `certs.signing('files1')`). `clock.t` is its clock.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FilesCapture } from '../../agent/roles/files/capture';
import type { CaptureKeys } from '../../shared/capture/capture-key';
import { FilesCaptureReader } from '../../shared/capture/files-restore';
import { openDestination, parseDestinationConfig } from '../../shared/destination';
import { silentLogger } from '../../shared/log';
import type { CaptureCerts } from './capture-certs';
import { scratchDirSync } from './scratch';

export function filesCaptureNode(certs: CaptureCerts, o: { recipients?: string[]; journalMaxLines?: number } = {}) {
  const root = scratchDirSync('files-capture');
  const dirs = { store: join(root, 'files'), state: join(root, 'state'), dest: join(root, 'dest'), out: join(root, 'out') };
  for (const d of [dirs.store, dirs.state, dirs.dest]) mkdirSync(d);
  const dest = openDestination(parseDestinationConfig({ type: 'local', path: dirs.dest }));
  const clock = { t: Date.parse('2026-12-08T10:00:00Z') };
  const signing = { cert: join(certs.dir, 'files1.crt'), key: join(certs.dir, 'files1.key') };
  const capture = () =>
    new FilesCapture({ location: dirs.store, stateDir: dirs.state, target: { dest, cluster: 'thehive', node: 'files1' }, signing, recipients: o.recipients, journalMaxLines: o.journalMaxLines, log: silentLogger(), watch: false, now: () => clock.t });
  /** Writes an attachment with an mtime of its own (a rewrite within the same millisecond would look unchanged). */
  let mtime = 1_700_000_000;
  const write = (rel: string, content: string | Buffer) => {
    const p = join(dirs.store, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    mtime += 10;
    utimesSync(p, mtime, mtime);
  };
  const reader = (keys?: CaptureKeys) => new FilesCaptureReader(dest, 'thehive', 'files1', { trust: certs.trust(dest), keys });
  return { dirs, dest, clock, capture, write, reader };
}
