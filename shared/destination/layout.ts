/**
 * The layout of the backup sets at a destination, owned here alone: every path of a set is built
 * by these functions, and each checks what goes into it (the backup id, the node name, the role,
 * the keyspace and table, the attachment's name) before it joins them, so a path cannot name
 * another set's folder, another node's, or anything outside the root.
 *
 *   tandem-lock.json                           the destination lock (one per destination, at the root)
 *   <id>/manifest.json, <id>/manifest.sig      the set's manifest and its signature
 *   <id>/pruned.json, <id>/pruned.sig          the marker of a pruned set and its signature
 *   <id>/set-key.age, <id>/set-key.json        the sealed set key and its clear description
 *   <id>/set-key.sig                             the coordinator's signature of set-key.json
 *   <id>/<node>/part.json                      one node's record of the backup
 *   <id>/<node>/cassandra/contents.json        the SSTables inside each table archive
 *   <id>/<node>/cassandra/ring.json            the node's token ring
 *   <id>/<node>/cassandra/<ks>/schema.cql      a keyspace's schema
 *   <id>/<node>/cassandra/<ks>/<table>.<ext>   a table's archive
 *   <id>/<node>/elasticsearch/snapshot.json    the Elasticsearch snapshot as it finished
 *   <id>/<node>/elasticsearch/repository/<blob>  an encrypted set's copy of the index: the files of its staging repository
 *   <id>/<node>/files/listing.ndjson           the files listing
 *   <id>/<node>/files/data/<path>              an attachment of a folder store
 *   <id>/<node>/files/s3/<key>                 an attachment of a bucket store
 *
 * and, beside the sets, the continuous capture of Cassandra's commitlog (point-in-time recovery):
 *
 *   tandem_capture/<cluster>/<node>/commitlog/<segment>/<start>-<end>.part   bytes [start, end) of a segment
 *   tandem_capture/<cluster>/<node>/commitlog/<segment>/index.ndjson         its pieces, in order, with their sha256
 *   tandem_capture/<cluster>/<node>/gaps.ndjson                              every gap the capture of the node found
 *   tandem_capture/<cluster>/<node>/certs/<cert id>.pem                      the agent certificates that signed its lines
 *   tandem_capture/<cluster>/<node>/keys/<key id>.age                        an encrypted capture's data key, sealed to the fleet's recipients
 * (an encrypted capture stores each piece as <start>-<end>.part.age)
 *
 * and the continuous capture of a folder file store:
 *
 *   tandem_capture/<cluster>/<node>/files/objects/<object id>                a copy of one version of an attachment (.age when encrypted)
 *   tandem_capture/<cluster>/<node>/files/journal-<n>.ndjson                 the signed puts and removes, in order, n from 1
 *
 * What a destination reads back is input from the network: the same checks hold for the ids and
 * names a manifest or listing carries, so a reader that builds a path here cannot be steered.
 */
import { ROLE_NAMES } from '../contract';
import { ValidationError } from '../errors';
import { BACKUP_ID, CQL_NAME, NODE_NAME } from '../names';
import { relPathProblem, safeRelPath } from './paths';

/** The roles that write into a node's folder of a set: the production roles and the protocol's test role (shared/parts' PART_ROLES). */
const SET_ROLES = [...ROLE_NAMES, 'rehearsal'] as const;
/** A role that writes into a node's folder of a set. */
export type SetRole = (typeof SET_ROLES)[number];

/** The two stores of the files role: a folder (localfs) and a bucket (s3). */
export type AttachmentStore = 'localfs' | 's3';

/** The manifest's file name inside the set's folder. */
export const MANIFEST_FILE = 'manifest.json';
/** The manifest's signature file inside the set's folder. */
export const MANIFEST_SIGNATURE = 'manifest.sig';
/** The pruned-set marker's file name inside the set's folder. */
export const PRUNED_MARKER = 'pruned.json';
/** The marker's signature file inside the set's folder. */
export const PRUNED_SIGNATURE = 'pruned.sig';
/**
 * The destination lock's file at the root: one per destination, shared by every coordinator that
 * writes there. Not a dot name (listings hide those, and so would an operator's `ls`), and a
 * file, not a folder: set ids are folders (BACKUP_ID, no dot allowed), so it is never taken for a set.
 */
export const DESTINATION_LOCK_FILE = 'tandem-lock.json';
/** The sealed set key's file name inside the set's folder. */
export const SET_KEY_FILE = 'set-key.age';
/** The set key description's file name inside the set's folder. */
export const SET_KEY_INFO_FILE = 'set-key.json';
/** The coordinator's signature of set-key.json (a rotation rewrites the pair, so the manifest cannot cover it). */
export const SET_KEY_SIG_FILE = 'set-key.sig';
/** A node's record of a set, inside its node folder. */
export const NODE_PART_FILE = 'part.json';

function part(kind: string, pattern: RegExp, value: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ValidationError(`invalid ${kind} ${JSON.stringify(value)} in a destination path: must match ${pattern.source}`, { [kind]: value });
  }
  return value;
}

/** A file name inside a folder of a set: one safe path segment. */
function fileName(name: string): string {
  if (typeof name === 'string' && name.includes('/')) throw new ValidationError(`invalid file name ${JSON.stringify(name)} in a destination path: it must be one segment`);
  return safeRelPath(name);
}

/** `<id>`: the folder of backup set `id`; ValidationError when `id` is not a backup id. */
export const setFolder = (id: string): string => part('backup id', BACKUP_ID, id);

/** `<id>/`: the prefix every file of the set starts with, for list() and for telling a set's files apart. */
export const setPrefix = (id: string): string => `${setFolder(id)}/`;

/** The backup set a path of a set (`<id>/…`) belongs to: its first segment. */
export const setOfPath = (path: string): string => path.slice(0, path.indexOf('/'));

/** `<id>/<name>`: a file or folder directly in the set's folder (manifest, marker, set key, their signatures, a node's folder as listed). */
export const setFile = (id: string, file: string): string => `${setFolder(id)}/${fileName(file)}`;

/** `<id>/<node>`: the folder node `node` writes in set `id`, and no other. */
export const nodeFolder = (id: string, node: string): string => `${setFolder(id)}/${part('node name', NODE_NAME, node)}`;

/** `<id>/<node>/`: the prefix of every path node `node` may write in set `id`. */
export const nodePrefix = (id: string, node: string): string => `${nodeFolder(id, node)}/`;

/** `<id>/<node>/<role>`: one role's folder of a node in a set. */
export function roleFolder(id: string, node: string, role: SetRole): string {
  if (!(SET_ROLES as readonly string[]).includes(role)) throw new ValidationError(`invalid role ${JSON.stringify(role)} in a destination path: must be one of ${SET_ROLES.join(', ')}`);
  return `${nodeFolder(id, node)}/${role}`;
}

/** `<id>/<node>/<role>/`: the prefix of every file of one role of a node. */
export const rolePrefix = (id: string, node: string, role: SetRole): string => `${roleFolder(id, node, role)}/`;

/** `<id>/<node>/<role>/<file>`: a file directly in a role's folder. */
export const roleFile = (id: string, node: string, role: SetRole, file: string): string => `${roleFolder(id, node, role)}/${fileName(file)}`;

/** `<id>/manifest.json`. */
export const manifestPath = (id: string): string => setFile(id, MANIFEST_FILE);
/** `<id>/manifest.sig`. */
export const manifestSignaturePath = (id: string): string => setFile(id, MANIFEST_SIGNATURE);
/** `<id>/pruned.json`. */
export const prunedMarkerPath = (id: string): string => setFile(id, PRUNED_MARKER);
/** `<id>/pruned.sig`. */
export const prunedSignaturePath = (id: string): string => setFile(id, PRUNED_SIGNATURE);
/** `<id>/set-key.age`: the set's age identity, sealed to the fleet's recipients. */
export const setKeyPath = (id: string): string => setFile(id, SET_KEY_FILE);
/** `<id>/set-key.json`: in clear, the recipients set-key.age is sealed to. */
export const setKeyInfoPath = (id: string): string => setFile(id, SET_KEY_INFO_FILE);
/** `<id>/set-key.sig`: the coordinator's signature of `<id>/set-key.json`. */
export const setKeySigPath = (id: string): string => setFile(id, SET_KEY_SIG_FILE);

/** `<id>/<node>/part.json`. */
export const nodePartPath = (id: string, node: string): string => `${nodeFolder(id, node)}/${NODE_PART_FILE}`;

/** `<id>/<node>/cassandra/contents.json`. */
export const cassandraContentsPath = (id: string, node: string): string => roleFile(id, node, 'cassandra', 'contents.json');
/** `<id>/<node>/cassandra/ring.json`. */
export const ringPath = (id: string, node: string): string => roleFile(id, node, 'cassandra', 'ring.json');
/** `<id>/<node>/cassandra/<keyspace>/schema.cql`. */
export const schemaCqlPath = (id: string, node: string, keyspace: string): string =>
  `${roleFolder(id, node, 'cassandra')}/${part('keyspace', CQL_NAME, keyspace)}/schema.cql`;

/** A table archive's extension: letters and digits only (tar, tbz, txz, and what encryption adds, e.g. tbz.age). */
const ARCHIVE_EXTENSION = /^[a-z0-9]+(?:\.[a-z0-9]+)*$/;

/** `<id>/<node>/cassandra/<keyspace>/<table>.<extension>`: one table's archive. */
export const tableArchivePath = (id: string, node: string, keyspace: string, table: string, extension: string): string =>
  `${roleFolder(id, node, 'cassandra')}/${part('keyspace', CQL_NAME, keyspace)}/${part('table', CQL_NAME, table)}.${part('archive extension', ARCHIVE_EXTENSION, extension)}`;

/** `<id>/<node>/cassandra/`: the prefix of every archive of the node, for telling its archives from another node's. */
export const cassandraPrefix = (id: string, node: string): string => rolePrefix(id, node, 'cassandra');

/** `<id>/<node>/elasticsearch/snapshot.json`. */
export const snapshotRecordPath = (id: string, node: string): string => roleFile(id, node, 'elasticsearch', 'snapshot.json');

/**
 * A file of an Elasticsearch snapshot repository, as Elasticsearch names them: `index-0`,
 * `index.latest`, `snap-<uuid>.dat`, `indices/<uuid>/<shard>/__<blob>`. Letters, digits, `_`, `-`
 * and `.`, never first (so no `.` or `..` segment, no hidden name), at most 6 levels.
 */
export const STAGED_BLOB = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}){0,5}$/;

/** `<id>/<node>/elasticsearch/repository/<blob>`: a file of an encrypted set's copy of its staging repository. */
export const stagedIndexFilePath = (id: string, node: string, blob: string): string =>
  `${roleFolder(id, node, 'elasticsearch')}/repository/${part('snapshot repository file', STAGED_BLOB, blob)}`;

/** `<id>/<node>/files`: the folder of a node's files part. */
export const filesFolder = (id: string, node: string): string => roleFolder(id, node, 'files');
/** `<id>/<node>/files/listing.ndjson`. */
export const filesListingPath = (id: string, node: string): string => roleFile(id, node, 'files', 'listing.ndjson');

/** The folder under a node's files part that holds a store's attachments. */
const storeFolder = (store: AttachmentStore): string => (store === 'localfs' ? 'data' : 's3');

/** The unchecked path of an attachment, for attachmentFilePath and attachmentProblem alone. */
const attachmentJoin = (id: string, node: string, store: AttachmentStore, name: string): string => `${filesFolder(id, node)}/${storeFolder(store)}/${name}`;

/**
 * Why `name` (a folder store's path, a bucket store's key) cannot be stored as an attachment of
 * node `node` in set `id`, or null when it can: the files role skips such a file and says why.
 */
export const attachmentProblem = (id: string, node: string, store: AttachmentStore, name: string): string | null =>
  relPathProblem(attachmentJoin(id, node, store, name));

/** The opaque name an encrypted set stores an attachment under: 32 hex digits, random, recorded in the encrypted listing. */
export const SEALED_ATTACHMENT_NAME = /^[0-9a-f]{32}$/;

/**
 * `<id>/<node>/files/sealed/<2 hex>/<name>`: where an encrypted set stores an attachment (+ `.age`).
 * Not under its store name: TheHive names attachments by their content's sha256, so the name alone
 * would tell whoever reads the destination which known file a set holds.
 */
export const sealedAttachmentPath = (id: string, node: string, name: string): string =>
  `${filesFolder(id, node)}/sealed/${part('sealed attachment name', SEALED_ATTACHMENT_NAME, name).slice(0, 2)}/${name}`;

/** `<id>/<node>/files/data/<path>` or `<id>/<node>/files/s3/<key>`; ValidationError for a name that is not a safe path. */
export const attachmentFilePath = (id: string, node: string, store: AttachmentStore, name: string): string =>
  safeRelPath(attachmentJoin(id, node, store, name));

/**
 * The root folder of the commitlog capture. An underscore keeps it from ever matching BACKUP_ID:
 * listing, pruning and key rotation walk the root's folders whose names are backup ids, and an
 * old folder without a manifest is an incomplete set that prune removes.
 */
export const CAPTURE_ROOT = 'tandem_capture';

/** A commitlog segment's file name as Cassandra writes it: `CommitLog-<version>-<id>.log`. */
export const COMMITLOG_SEGMENT = /^CommitLog-\d{1,3}-\d{1,19}\.log$/;

/** Digits of a piece's offsets in its name: offsets below 2^31 fit, and names sort as the offsets do. */
const OFFSET_DIGITS = 10;

/** `tandem_capture/<cluster>/<node>`: everything the capture of one node writes. */
export const captureNodeFolder = (cluster: string, node: string): string =>
  `${CAPTURE_ROOT}/${part('cluster name', NODE_NAME, cluster)}/${part('node name', NODE_NAME, node)}`;

/** `tandem_capture/<cluster>/<node>/commitlog/<segment>`: the pieces of one segment and their index. */
export const captureSegmentFolder = (cluster: string, node: string, segment: string): string =>
  `${captureNodeFolder(cluster, node)}/commitlog/${part('commitlog segment', COMMITLOG_SEGMENT, segment)}`;

/** `…/<segment>/<start>-<end>.part` (`.part.age` when `sealed`): bytes [start, end) of the segment, offsets zero-padded to 10 digits. */
export function capturePiecePath(cluster: string, node: string, segment: string, start: number, end: number, sealed = false): string {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start || end >= 10 ** OFFSET_DIGITS) {
    throw new ValidationError(`invalid piece [${start}, ${end}) of segment ${segment}: offsets must be integers with 0 <= start < end < 10^${OFFSET_DIGITS}`);
  }
  const pad = (n: number) => String(n).padStart(OFFSET_DIGITS, '0');
  return `${captureSegmentFolder(cluster, node, segment)}/${pad(start)}-${pad(end)}.part${sealed ? '.age' : ''}`;
}

/** A piece's file name: its start and end offsets, or null when the name is not a piece's. */
export function parsePieceName(name: string): { start: number; end: number; sealed: boolean } | null {
  const m = /^(\d{10})-(\d{10})\.part(\.age)?$/.exec(name);
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  return end > start ? { start, end, sealed: m[3] !== undefined } : null;
}

/** An object of the file store's capture: 32 random hex digits, never the attachment's name. */
export const CAPTURE_OBJECT_ID = /^[0-9a-f]{32}$/;
/** Digits of a journal's number in its name: names sort as the numbers do. */
const JOURNAL_DIGITS = 8;

/** `tandem_capture/<cluster>/<node>/files`: the file store's capture of one node. */
export const captureFilesFolder = (cluster: string, node: string): string => `${captureNodeFolder(cluster, node)}/files`;

/** `…/files/objects/<object id>` (`.age` when `sealed`): one stored version of an attachment. */
export const captureObjectPath = (cluster: string, node: string, objectId: string, sealed = false): string =>
  `${captureFilesFolder(cluster, node)}/objects/${part('capture object id', CAPTURE_OBJECT_ID, objectId)}${sealed ? '.age' : ''}`;

/** `…/files/journal-<n>.ndjson`, n from 1, zero-padded to 8 digits. */
export function captureJournalPath(cluster: string, node: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 1 || n >= 10 ** JOURNAL_DIGITS) throw new ValidationError(`invalid journal number ${n}: 1 to 10^${JOURNAL_DIGITS} - 1`);
  return `${captureFilesFolder(cluster, node)}/journal-${String(n).padStart(JOURNAL_DIGITS, '0')}.ndjson`;
}

/** `…/<segment>/index.ndjson`: one line per piece, in offset order. */
export const captureIndexPath = (cluster: string, node: string, segment: string): string => `${captureSegmentFolder(cluster, node, segment)}/index.ndjson`;

/** `tandem_capture/<cluster>/<node>/gaps.ndjson`: one line per gap found. */
export const captureGapsPath = (cluster: string, node: string): string => `${captureNodeFolder(cluster, node)}/gaps.ndjson`;

/** `tandem_capture/<cluster>/<node>/certs/<cert id>.pem`: an agent certificate that signed lines of the capture. */
export const captureCertPath = (cluster: string, node: string, certId: string): string => `${captureNodeFolder(cluster, node)}/certs/${part('certificate id', /^[0-9a-f]{32}$/, certId)}.pem`;

/** `tandem_capture/<cluster>/<node>/keys/<key id>.age`: a data key of the capture, sealed to the fleet's recipients. */
export const captureKeyPath = (cluster: string, node: string, keyId: string): string => `${captureNodeFolder(cluster, node)}/keys/${part('capture key id', /^[0-9a-f]{32}$/, keyId)}.age`;

/** `tandem_capture/<cluster>/<node>/keys`: every sealed data key of the node's capture (a key rotation reseals them). */
export const captureKeysFolder = (cluster: string, node: string): string => `${captureNodeFolder(cluster, node)}/keys`;
