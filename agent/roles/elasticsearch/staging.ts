/**
 * The index of an encrypted set. An Elasticsearch snapshot lives in Elasticsearch's repository,
 * in clear, outside the set; an encrypted set cannot leave it there. So the snapshot is taken
 * into a staging repository of its own (an `fs` repository under `stagingLocation`, fresh for each
 * backup, so it holds the whole snapshot and nothing else), its files are stored in the set
 * through the set's encryption, and the staging repository is dropped. A restore decrypts them
 * back into a read-only repository there and restores from it as from any other.
 *
 * The staging folder is on the Elasticsearch host, beside the index's own data: the plaintext
 * there is no more exposed than the index itself, and lives only for the length of a run.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from '@elastic/elasticsearch';
import { roleFolder, STAGED_BLOB, stagedIndexFilePath } from '../../../shared/destination/layout';
import { PreconditionError, ValidationError } from '../../../shared/errors';
import { handleSink, LinkRefusedError, NoFollowRoot } from '../../../shared/nofollow';
import type { FileRef } from '../../../shared/parts';
import { RefCheck, type RefCheckWords } from '../../../shared/parts/ref-check';
import { runPool } from '../../../shared/pool';
import type { RestoreContext, RoleContext } from '../role';
import { esErrorType } from './client';
import type { ResolvedEsSettings } from './config';
import * as es from './snapshot';

/** The staging folder of a backup and of a restore, inside stagingLocation (one of each at a time on an agent). */
const BACKUP_FOLDER = 'backup';
const RESTORE_FOLDER = 'restore';
/** Files stored or staged back at once. */
const CONCURRENCY = 4;

/** Where an encrypted set's snapshot is staged, or null when neither stagingLocation nor repositoryLocation is set. */
export function stagingRoot(s: ResolvedEsSettings): string | null {
  return s.stagingLocation ?? (s.repositoryLocation ? `${s.repositoryLocation}-staging` : null);
}

/** The staging repository a backup snapshots into, and the read-only one a restore reads from. */
export const stagingRepository = (s: ResolvedEsSettings) => `${s.repository}-staging`;
export const stagedRestoreRepository = (s: ResolvedEsSettings) => `${s.repository}-staged`;
/** Where a restore stages an encrypted set's index back ('' when no staging folder is configured: stageBack refuses). */
export const stagedRestoreLocation = (s: ResolvedEsSettings) => { const root = stagingRoot(s); return root ? join(root, RESTORE_FOLDER) : ''; };

function rootOrRefuse(s: ResolvedEsSettings): string {
  const root = stagingRoot(s);
  if (!root) throw new PreconditionError('an encrypted set stores the index in the set through a staging repository: set roles.elasticsearch.stagingLocation to a folder inside path.repo (or set repositoryLocation)');
  return root;
}

const tree = (root: string) => new NoFollowRoot(root, `index staging ${root}`);

/** Unregisters a repository (its files stay); no error when it is not registered. */
async function unregister(c: Client, name: string): Promise<void> {
  await c.snapshot.deleteRepository({ name }).catch((err: unknown) => {
    if (esErrorType(err) !== 'repository_missing_exception') throw err;
  });
}

/** A readable "inside path.repo of every node" check of `location`: the problem, or null. */
export async function pathRepoProblem(c: Client, location: string, setting: string): Promise<string | null> {
  const inside = (root: string) => location === root || location.startsWith(root.endsWith('/') ? root : `${root}/`);
  const bad = (await es.pathRepos(c)).filter((roots) => !roots.some(inside));
  return bad.length ? `${location} is not inside path.repo of ${bad.length} node(s) (path.repo: ${JSON.stringify(bad[0])}); add it to elasticsearch.yml on every node, or change ${setting}` : null;
}

/** Prepare of an encrypted set: the debris of earlier runs removed, a fresh staging repository registered. */
export async function openStaging(c: Client, s: ResolvedEsSettings): Promise<void> {
  const root = rootOrRefuse(s);
  const problem = await pathRepoProblem(c, root, 'roles.elasticsearch.stagingLocation');
  if (problem) throw new PreconditionError(problem);
  await unregister(c, stagingRepository(s));
  await unregister(c, stagedRestoreRepository(s));
  // A missing root is no error: Elasticsearch makes it when it registers the repository.
  await tree(root).removeTree(BACKUP_FOLDER);
  await tree(root).removeTree(RESTORE_FOLDER);
  // verify=true: every node of the cluster checks it can write there (a shared folder on a cluster).
  await c.snapshot.createRepository({ name: stagingRepository(s), verify: true, repository: { type: 'fs', settings: { location: join(root, BACKUP_FOLDER) } } });
}

/** Ship of an encrypted set: every file of the staging repository stored in the set (encrypted by ctx.destination). */
export async function storeStaged(ctx: RoleContext, s: ResolvedEsSettings): Promise<{ files: FileRef[]; bytes: number }> {
  const t = tree(rootOrRefuse(s));
  const names: string[] = [];
  await t.walk(BACKUP_FOLDER, (e) => {
    const rel = e.path.slice(BACKUP_FOLDER.length + 1);
    if (e.dirent.isSymbolicLink()) throw new LinkRefusedError(`index staging: ${e.path} is a symbolic link: Elasticsearch never writes one in a repository; refused`, { path: e.path });
    if (e.dirent.isDirectory()) return;
    if (!e.dirent.isFile()) throw new ValidationError(`index staging: ${e.path} is not a regular file: refused`, { path: e.path });
    if (!STAGED_BLOB.test(rel)) throw new ValidationError(`index staging: ${e.path} is not a name Elasticsearch gives a repository file: refused`, { path: e.path });
    names.push(rel);
  });
  if (!names.length) throw new PreconditionError(`the staging repository ${stagingRepository(s)} holds no file after the snapshot: is stagingLocation shared by every node of the cluster?`);
  const files = await runPool(names, CONCURRENCY, ctx.signal, async (rel, _i, signal): Promise<FileRef> => {
    const { handle, size } = await t.openRead(`${BACKUP_FOLDER}/${rel}`);
    try {
      const hash = createHash('sha256');
      const path = stagedIndexFilePath(ctx.backupId, ctx.node, rel);
      const tap = new Transform({ transform: (chunk: Buffer, _e, cb) => cb(null, hash.update(chunk) && chunk) });
      const read = handle.createReadStream({ autoClose: false }).on('error', (err) => tap.destroy(err));
      const source = read.pipe(tap);
      await ctx.destination.put(path, source, { size, signal });
      return { path, size, sha256: hash.digest('hex') };
    } finally {
      await handle.close().catch(() => undefined);
    }
  });
  return { files, bytes: files.reduce((n, f) => n + f.size, 0) };
}

/**
 * After ship, and on abort: the staging repository unregistered and its files removed. `snapshot`
 * is deleted first (which cancels it when still running: a repository in use cannot be unregistered).
 */
export async function dropStaging(c: Client, s: ResolvedEsSettings, snapshot?: string): Promise<void> {
  const root = stagingRoot(s);
  if (!root) return;
  if (snapshot && (await es.repositoryInfo(c, stagingRepository(s))).exists) await es.deleteSnapshot(c, stagingRepository(s), snapshot);
  await unregister(c, stagingRepository(s));
  await tree(root).removeTree(BACKUP_FOLDER);
}

/** A staged-back file's plaintext against what its part records. */
const PLAIN: RefCheckWords = {
  tooLarge: (ref) => `${ref.path} decrypts to more than the ${ref.size} bytes its part records: refused`,
  mismatch: (ref, seen, got) => `${ref.path} decrypts to ${seen} bytes with sha256 ${got}, its part records ${ref.size} with ${ref.sha256}: refused`,
};

/** What stageBack did, kept in workDir so a repeated fetch does not decrypt again. */
interface StagedBack {
  restoreId: string;
  backupId: string;
  files: number;
}

/**
 * Fetch of an encrypted set's index: every file of its staging repository decrypted (through
 * ctx.destination, which checks the stored bytes against the signed manifest) back into
 * `<stagingLocation>/restore`, owned by Elasticsearch's user, each checked against its part.
 * Returns the repository the load restores from, registered read-only by the load.
 */
export async function stageBack(ctx: RestoreContext, s: ResolvedEsSettings, sourceNode: string, staged: { files: FileRef[] }): Promise<{ name: string; location: string }> {
  const root = rootOrRefuse(s);
  const location = join(root, RESTORE_FOLDER);
  const markerFile = join(ctx.workDir, 'es-staged.json');
  const marker = await readFile(markerFile, 'utf8').then((t) => JSON.parse(t) as StagedBack, () => null);
  if (marker && marker.restoreId === ctx.restoreId && marker.backupId === ctx.backupId && marker.files === staged.files.length) return { name: stagedRestoreRepository(s), location };
  const prefix = `${roleFolder(ctx.backupId, sourceNode, 'elasticsearch')}/repository/`;
  const rels = staged.files.map((f) => {
    const rel = f.path.startsWith(prefix) ? f.path.slice(prefix.length) : '';
    if (!STAGED_BLOB.test(rel)) throw new ValidationError(`${f.path} is not a file of the set's index copy (${prefix}…): refused`, { path: f.path });
    return rel;
  });
  // Elasticsearch reads what it restores: the files take the staging folder's owner when the agent may give them.
  const st = await stat(root).catch(() => {
    throw new PreconditionError(`${root} (stagingLocation) does not exist: make it inside path.repo, owned by Elasticsearch's user`);
  });
  const owner = process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : null;
  const t = tree(root);
  await t.removeTree(RESTORE_FOLDER);
  const top = await t.mkdirp(RESTORE_FOLDER, 0o750);
  await (owner ? top.chown(owner.uid, owner.gid) : top.chmod(0o755)).finally(() => top.close());
  const folders = [...new Set(rels.flatMap((r) => r.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))))].sort();
  for (const f of folders) {
    const h = await t.mkdirp(`${RESTORE_FOLDER}/${f}`, 0o750);
    await (owner ? h.chown(owner.uid, owner.gid) : h.chmod(0o755)).finally(() => h.close());
  }
  await runPool(staged.files, CONCURRENCY, ctx.signal, async (ref, i, signal) => {
    const file = await t.create(`${RESTORE_FOLDER}/${rels[i]}`, { mode: owner ? 0o640 : 0o644 });
    try {
      if (owner) await file.handle.chown(owner.uid, owner.gid);
      await pipeline(await ctx.destination.get(ref.path), new RefCheck(ref, PLAIN), handleSink(file.handle), { signal });
      await file.commit();
    } catch (err) {
      await file.discard();
      throw err;
    }
  });
  await mkdir(ctx.workDir, { recursive: true });
  await writeFile(markerFile, JSON.stringify({ restoreId: ctx.restoreId, backupId: ctx.backupId, files: staged.files.length } satisfies StagedBack));
  ctx.log.info({ files: staged.files.length, location }, 'staged the set\'s index back for Elasticsearch');
  return { name: stagedRestoreRepository(s), location };
}

/** Before a fetch: a read-only repository left registered by an earlier restore is unregistered (the load registers it afresh). */
export const unregisterStagedRestore = (c: Client, s: ResolvedEsSettings) => unregister(c, stagedRestoreRepository(s));

/** After the load: the read-only repository unregistered and the plaintext removed. */
export async function dropStagedBack(c: Client, s: ResolvedEsSettings): Promise<void> {
  const root = stagingRoot(s);
  if (!root) return;
  await unregister(c, stagedRestoreRepository(s));
  await tree(root).removeTree(RESTORE_FOLDER);
}
