/**
 * One node's capture on real files, for tests: a temporary folder stands in for cdc_raw, with
 * segments hard-linked from a commitlog folder as Cassandra links them, and _cdc.idx files
 * written the way Cassandra writes them; the capture stores into a local-folder destination and
 * signs with the agent certificate of cass1 (issue it first: `certs.signing('cass1')`).
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CommitlogCapture, type CaptureMetrics } from '../../agent/roles/cassandra/capture';
import { openDestination, parseDestinationConfig } from '../../shared/destination';
import { captureIndexPath, captureSegmentFolder } from '../../shared/destination/layout';
import { silentLogger } from '../../shared/log';
import type { CaptureCerts } from './capture-certs';
import { scratchDirSync } from './scratch';

const SEGMENT_BYTES = 64 * 1024;

/** The message a promise is rejected with; fails the test when it resolves. */
export async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a rejection');
}

/** A node's folders: commitlog, cdc_raw, the agent's state, the destination; its capture signs with cass1's certificate; `now` its clock. */
export function captureNode(certs: CaptureCerts, recipients?: string[], now?: () => number) {
  const root = scratchDirSync('capture');
  const dirs = { commitlog: join(root, 'commitlog'), cdcRaw: join(root, 'cdc_raw'), state: join(root, 'state'), dest: join(root, 'dest') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const dest = openDestination(parseDestinationConfig({ type: 'local', path: dirs.dest }));
  const seen: { cdcRawBytes: number; unshippedBytes: number; lagSeconds: number }[] = [];
  let gaps = 0;
  const metrics: CaptureMetrics = { captured: (r) => seen.push(r), gaps: (n) => void (gaps += n) };
  const signing = { cert: join(certs.dir, 'cass1.crt'), key: join(certs.dir, 'cass1.key') };
  const reader = { trust: certs.trust(dest) };
  const capture = () => new CommitlogCapture({ cdcRawDirectory: dirs.cdcRaw, stateDir: dirs.state, target: { dest, cluster: 'thehive', node: 'cass1' }, signing, recipients, log: silentLogger(), metrics, watch: false, now });
  /** A segment as Cassandra creates it: preallocated in the commitlog folder, hard-linked into cdc_raw. */
  const segment = (id: number) => {
    const name = `CommitLog-8-${id}.log`;
    const content = randomBytes(SEGMENT_BYTES);
    writeFileSync(join(dirs.commitlog, name), content);
    linkSync(join(dirs.commitlog, name), join(dirs.cdcRaw, name));
    return { name, content };
  };
  /** Cassandra's sync: the _cdc.idx rewritten with the durable offset, and COMPLETED at the end. */
  const sync = (id: number, durable: number, completed = false) => writeFileSync(join(dirs.cdcRaw, `CommitLog-8-${id}_cdc.idx`), `${durable}\n${completed ? 'COMPLETED\n' : ''}`);
  const stored = (name: string) => readdirSync(join(dirs.dest, captureSegmentFolder('thehive', 'cass1', name))).filter((f) => /\.part(\.age)?$/.test(f)).sort();
  const indexLines = (name: string) => readFileSync(join(dirs.dest, captureIndexPath('thehive', 'cass1', name)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { start: number; end: number; sha256: string });
  const concat = (name: string) => Buffer.concat(stored(name).map((f) => readFileSync(join(dirs.dest, captureSegmentFolder('thehive', 'cass1', name), f))));
  return { dirs, dest, reader, capture, segment, sync, stored, indexLines, concat, seen, gaps: () => gaps };
}

