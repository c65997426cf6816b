/**
 * A valid manifest of a three-role backup set, as plain JSON, for tests that tamper with one field
 * and check that parsing refuses it (what is read back from a destination is hostile input).
 */
import { MANIFEST_FORMAT } from '../../shared/manifest';

export const SET_ID = 'tandem-20261122t101500z-0a1b2c';
const hex = (c: string) => c.repeat(64);
const ref = (path: string, c = 'a') => ({ path, size: 10, sha256: hex(c) });

/** A fresh, valid manifest (JSON value) with cassandra, elasticsearch and files parts on node1. */
export function validManifest(): Record<string, any> {
  const base = `${SET_ID}/node1`;
  const table = { keyspace: 'thehive', table: 'edgestore', tableDir: 'edgestore-0123abcd', path: `${base}/cassandra/thehive/edgestore.tar.bz2`, size: 10, sha256: hex('b'), bytesIn: 20 };
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
