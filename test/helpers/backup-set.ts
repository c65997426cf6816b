/**
 * A valid manifest of a three-role backup set, as plain JSON, for tests that tamper with one field
 * and check that parsing refuses it (what is read back from a destination is hostile input).
 */
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar-stream';
import { openDestination, parseDestinationConfig } from '../../shared/destination';
import { silentLogger } from '../../shared/log';
import { MANIFEST_FORMAT, parseManifest } from '../../shared/manifest';
import type { ListedFile } from '../../shared/parts/files';
import { attachmentPath } from '../../shared/parts/files-paths';
import { sha256Of } from '../../shared/parts/io';
import { parseRestoreOptions } from '../../shared/wire/restore';

export const SET_ID = 'tandem-20261122t101500z-0a1b2c';
const hex = (c: string) => c.repeat(64);
const ref = (path: string, c = 'a') => ({ path, size: 10, sha256: hex(c) });

/** A fresh, valid manifest (JSON value) with cassandra, elasticsearch and files parts on node1. */
export function validManifest(): Record<string, any> {
  const base = `${SET_ID}/node1`;
  const table = { keyspace: 'thehive', table: 'edgestore', tableDir: 'edgestore-0123abcd', path: `${base}/cassandra/thehive/edgestore.tar.bz2`, size: 10, sha256: hex('b'), bytesIn: 20, chain: 0, bytesReused: 0 };
  return {
    format: MANIFEST_FORMAT, id: SET_ID, tag: SET_ID, status: 'complete', tandemVersion: 't',
    startedAt: '', committedAt: '', completedAt: '', durationMs: 0, snapshotSpreadMs: null, options: {},
    nodes: [{
      node: 'node1', hostname: 'node1', roles: ['cassandra', 'elasticsearch', 'files'], versions: {}, committedAt: 0, clockOffsetMs: 0,
      record: ref(`${base}/part.json`),
      commits: {},
      parts: {
        cassandra: { compression: 'bzip2', keyspaces: ['thehive'], tables: [table], contents: ref(`${base}/cassandra/contents.json`), summary: '' },
        elasticsearch: {
          format: 'tandem.es-snapshot/v1', url: 'http://es:9200', repository: { name: 'tandem' }, snapshot: SET_ID, indices: ['thehive_global'],
          docCounts: { thehive_global: 3 }, aliases: { thehive_global: ['thehive'] }, cutAt: 0, record: ref(`${base}/elasticsearch/snapshot.json`), summary: '',
        },
        files: {
          store: 'localfs', location: '/opt/thp/thehive/files', fileCount: 1, bytes: 10,
          deviations: { changed: 0, missing: 0, unstorable: 0, examples: [] }, summary: '', listing: ref(`${base}/files/listing.json`),
        },
      },
    }],
    files: [{ ...table, node: 'node1', role: 'cassandra' }].map(({ path, size, sha256, node, role }) => ({ path, size, sha256, node, role })),
    parent: null, references: [],
    listed: { files: 1, bytes: 10 }, bytes: 20,
  };
}

/** A valid folder listing (JSON value) with one file in one folder. */
export function validListing(): Record<string, any> {
  return {
    format: 'tandem.files-listing/v2', cutAt: 0, store: 'localfs', location: '/opt/thp/thehive/files',
    files: [{ path: 'ab/cdef', size: 3, mtimeMs: 0, mode: 0o640, uid: 1000, gid: 1000, sha256: hex('c') }],
    dirs: [{ path: '', mode: 0o750, uid: 1000, gid: 1000 }, { path: 'ab', mode: 0o750, uid: 1000, gid: 1000 }],
    changed: [], missing: [], unstorable: [], summary: '',
  };
}

/**
 * A one-table cassandra set written to a local destination under `root`: a plain tar archive of
 * two SSTable files, contents.json and the manifest's record of both. `archiveBody` replaces the
 * archive's bytes at the destination (a planted archive), keeping the manifest's record;
 * `recordedSize` is the size contents.json records for every file; `contentsBody` replaces
 * contents.json's bytes at the destination after the manifest recorded them ('sparse-GiB': the
 * file extended to 1 GiB, sparse).
 */
export async function plantCassandraSet(root: string, opts: { archiveBody?: (original: Buffer) => Buffer; recordedSize?: number; contentsBody?: (original: Buffer) => Buffer | 'sparse-GiB' } = {}) {
  const dest = join(root, 'dest');
  const put = (rel: string, body: Buffer | string) => {
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    writeFileSync(join(dest, rel), body);
    return { path: rel, size: Buffer.byteLength(body), sha256: sha256Of(body) };
  };
  const files = [{ path: 'nb-1-big-Data.db', body: Buffer.from('data'.repeat(100)) }, { path: 'manifest.json', body: Buffer.from('{}') }];
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const f of files) pack.entry({ name: f.path, mode: 0o644 }, f.body);
  pack.finalize();
  await collected;
  const archive = Buffer.concat(chunks);
  const m = validManifest();
  const base = `${SET_ID}/node1`;
  const cass = m.nodes[0].parts.cassandra;
  const recorded = { path: cass.tables[0].path, size: archive.length, sha256: sha256Of(archive) };
  const archived = files.map((f) => ({ path: f.path, size: opts.recordedSize ?? f.body.length, sha256: sha256Of(f.body) }));
  const sstable = {
    name: 'nb-1-big', dataSize: archived[0].size, dataMtimeMs: 0, digest: null, dataSha256: archived[0].sha256,
    set: SET_ID, archive: recorded.path, components: [archived[0]],
  };
  const contents = {
    format: 'tandem.sstable-contents/v2',
    tables: { 'thehive.edgestore': { files: archived, sstables: [sstable], archives: [{ ...recorded, set: SET_ID, bytesIn: 402 }] } },
  };
  cass.contents = put(`${base}/cassandra/contents.json`, JSON.stringify(contents));
  const planted = opts.contentsBody?.(Buffer.from(JSON.stringify(contents)));
  if (planted === 'sparse-GiB') truncateSync(join(dest, cass.contents.path), 2 ** 30);
  else if (planted) writeFileSync(join(dest, cass.contents.path), planted);
  put(recorded.path, opts.archiveBody ? opts.archiveBody(archive) : archive);
  Object.assign(cass.tables[0], recorded);
  m.files = [{ ...recorded, node: 'node1', role: 'cassandra' }];
  const manifest = parseManifest(JSON.stringify(m), SET_ID);
  const workDir = join(root, 'work');
  const ctx = {
    restoreId: 'restore-1', backupId: SET_ID, node: 'node1', manifest,
    destination: openDestination(parseDestinationConfig({ type: 'local', path: dest })),
    options: parseRestoreOptions({}), workDir, signal: new AbortController().signal, progress: () => undefined, log: silentLogger(),
  };
  return { ctx, workDir, tableDir: join(workDir, 'node1', 'thehive', 'edgestore') };
}

/**
 * A folder listing and its files written to a local destination under `root`, ready for the folder
 * restore: `tamper` changes the listing (JSON value) before it is parsed as a restore would.
 */
export function plantFilesSet(root: string, tamper: (listing: Record<string, any>) => void = () => undefined) {
  const dest = join(root, 'dest');
  const base = `${SET_ID}/node1/files`;
  const body = Buffer.from('attachment');
  mkdirSync(join(dest, base, 'data', 'ab'), { recursive: true });
  writeFileSync(join(dest, base, 'data', 'ab', 'cdef'), body);
  const listing = validListing();
  Object.assign(listing.files[0], { size: body.length, sha256: sha256Of(body) });
  tamper(listing);
  const ctx = {
    restoreId: 'restore-1', backupId: SET_ID, node: 'node1', manifest: parseManifest(JSON.stringify(validManifest()), SET_ID),
    destination: openDestination(parseDestinationConfig({ type: 'local', path: dest })),
    options: parseRestoreOptions({}), workDir: join(root, 'work'), signal: new AbortController().signal, progress: () => undefined, log: silentLogger(),
  };
  /** Where the restore reads each listed file, as the files role finds it. */
  const from = (f: ListedFile) => attachmentPath(SET_ID, 'node1', 'localfs', f);
  return { ctx, base, from, target: join(root, 'target'), listing };
}
