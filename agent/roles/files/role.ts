/**
 * The files role: TheHive's attachments, from a folder or a bucket, copied file by file into
 * `<backupId>/<node>/files/` with a listing (sizes, sha256, owners, modes) for restore.
 * Commit records the cut (its instant for a folder, whose walk it starts (cut.ts); a bucket's
 * listing in workDir/cut.json); ship copies that cut, except the attachments the parent set already holds
 * (incremental.ts), which the listing names instead (ship-folder.ts, ship-bucket.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { filesFolder } from '../../../shared/destination/layout';
import { PreconditionError } from '../../../shared/errors';
import type { Logger } from '../../../shared/log';
import type { CheckResult, RestorableRole, RestoreContext, RestorePhase, RoleContext, ShipResult } from '../role';
import { resolveFilesSettings, type FilesSettings, type ResolvedFilesSettings } from './config';
import { linkedSignal } from './copy';
import { startFolderWalk, type FolderCutAt, type FolderWalk } from './cut';
import { checkFolder } from './localfs';
import { restoreFiles } from './restore';
import { checkBucket, listBucket, storeClient, type S3Cut } from './s3';
import { shipBucket } from './ship-bucket';
import { shipFolder } from './ship-folder';

/** Creates the files role; reads theHiveConfig now (ConfigError if unusable). */
export function filesRole(settings: FilesSettings): RestorableRole {
  const s: ResolvedFilesSettings = resolveFilesSettings(settings);
  const where = s.store === 'localfs' ? s.location : `s3://${s.bucket}${s.endpoint ? ` at ${s.endpoint}` : ''}`;

  /** Walks of folder cuts started at Commit, by backup id, until their ship takes them. */
  const walks = new Map<string, FolderWalk>();

  /** Takes the cut, or returns the one already taken for this backup (commit is idempotent). */
  const takeCut = async (ctx: RoleContext): Promise<FolderCutAt | S3Cut> => {
    const file = join(ctx.workDir, 'cut.json');
    const old = await readFile(file, 'utf8').catch(() => null);
    if (old) return JSON.parse(old) as FolderCutAt | S3Cut;
    let cut: FolderCutAt | S3Cut;
    // A folder is walked at the start of ship (cut.ts): Commit records the instant only.
    if (s.store === 'localfs') {
      cut = { store: 'localfs', location: s.location, cutAt: Date.now() };
      walks.set(ctx.backupId, startFolderWalk(cut, ctx.workDir, ctx.signal));
    }
    else {
      const client = storeClient(s);
      try {
        const cutAt = Date.now();
        cut = { store: 's3', bucket: s.bucket, endpoint: s.endpoint, cutAt, objects: await listBucket(client, s.bucket, ctx.signal) };
      } finally {
        client.destroy();
      }
    }
    await mkdir(ctx.workDir, { recursive: true });
    await writeFile(file, JSON.stringify(cut));
    return cut;
  };

  return {
    name: 'files',

    async versions() {
      return {};
    },

    async preflight(): Promise<CheckResult[]> {
      const out: CheckResult[] = [];
      // Backing up the store TheHive does not use would produce a valid-looking, useless set.
      if (s.theHiveProvider && s.theHiveProvider !== s.store) {
        out.push({ name: 'provider', ok: false, message: `application.conf says storage.provider = ${s.theHiveProvider}, but files.store is ${s.store}` });
      }
      let problem: string | null;
      if (s.store === 'localfs') problem = await checkFolder(s.location);
      else {
        try {
          const client = storeClient(s);
          problem = await checkBucket(client, s.bucket).finally(() => client.destroy());
        } catch (err) {
          problem = (err as Error).message;
        }
      }
      out.push({ name: 'store', ok: !problem, message: problem ?? `${where} is readable` });
      return out;
    },

    async prepare() {},

    async commit(ctx: RoleContext) {
      const cut = await takeCut(ctx);
      if (cut.store === 'localfs') return { cutAt: cut.cutAt, store: cut.store, location: where };
      return { cutAt: cut.cutAt, store: cut.store, location: where, fileCount: cut.objects.length, bytes: cut.objects.reduce((a, f) => a + f.size, 0) };
    },

    async ship(outer: RoleContext) {
      const linked = linkedSignal(outer.signal, 10 + 4 * s.concurrency);
      try {
        return await ship({ ...outer, signal: linked.signal });
      } finally {
        linked.dispose();
      }
    },

    async cleanup() {},

    async abort(ctx: RoleContext) {
      await walks.get(ctx.backupId)?.done.catch(() => undefined);
      walks.delete(ctx.backupId);
      await ctx.destination.remove(filesFolder(ctx.backupId, ctx.node));
    },

    async recover(_activeTag: string | null, _log: Logger) {},

    // Readable, as preflight checks: the agent only reads the store during a backup, and a
    // hardened unit (systemd/tandem-agent.service) may keep it read-only.
    async health(signal: AbortSignal) {
      let problem: string | null;
      if (s.store === 'localfs') problem = await checkFolder(s.location);
      else {
        const client = storeClient(s);
        problem = await checkBucket(client, s.bucket, signal).finally(() => client.destroy());
      }
      if (problem) throw new PreconditionError(problem);
    },

    async restore(phase: RestorePhase, ctx: RestoreContext) {
      return restoreFiles(phase, ctx, s);
    },
  };

  /**
   * Copies what the parent set does not hold of the cut (everything for a full set) and writes
   * the listing of the whole cut; the part keeps counts and a reference to it.
   */
  async function ship(ctx: RoleContext): Promise<ShipResult> {
    const raw = await readFile(join(ctx.workDir, 'cut.json'), 'utf8').catch(() => null);
    if (!raw) throw new PreconditionError(`files: the cut of backup ${ctx.backupId} is gone (agent restarted?); the backup must be retried`);
    // Written by this agent at commit: trusted local state, not destination input.
    const cut = JSON.parse(raw) as FolderCutAt | S3Cut;
    if (cut.store === 'localfs') {
      // The walk started at Commit; after an agent restart in between, it starts now.
      const walk = walks.get(ctx.backupId) ?? startFolderWalk(cut, ctx.workDir, ctx.signal);
      walks.delete(ctx.backupId);
      return shipFolder(ctx, walk, where, s.concurrency);
    }
    const client = storeClient(s as Extract<ResolvedFilesSettings, { store: 's3' }>);
    try {
      return await shipBucket(ctx, client, cut, where, s.concurrency);
    } finally {
      client.destroy();
    }
  }
}
