/**
 * The files role: TheHive's attachments, from a folder or a bucket, copied file by file into
 * `<backupId>/<node>/files/` with a listing (sizes, sha256, owners, modes) for restore.
 * Commit records the cut (a listing in workDir/cut.json); ship copies that cut, except the
 * attachments the parent set already holds (incremental.ts), which the listing names instead.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreconditionError } from '../../../shared/errors';
import type { Logger } from '../../../shared/log';
import type { FileRef } from '../../../shared/parts';
import { writeReferenced } from '../../../shared/parts/io';
import type { FilesListing, FilesPart, ListedFile, ListedObject } from '../../../shared/parts/files';
import type { CheckResult, RestorableRole, RestoreContext, RestorePhase, RoleContext, ShipResult } from '../role';
import { resolveFilesSettings, type FilesSettings, type ResolvedFilesSettings } from './config';
import { linkedSignal, shipSummary, type StoredFile } from './copy';
import { parentAttachments, splitBucketCut, splitFolderCut } from './incremental';
import { checkFolder, copyFolder, listFolder, storedFiles, type LocalCut } from './localfs';
import { restoreFiles } from './restore';
import { checkBucket, copyBucket, listBucket, storeClient, type S3Cut } from './s3';

const base = (ctx: RoleContext) => `${ctx.backupId}/${ctx.node}/files`;

/** Creates the files role; reads theHiveConfig now (ConfigError if unusable). */
export function filesRole(settings: FilesSettings): RestorableRole {
  const s: ResolvedFilesSettings = resolveFilesSettings(settings);
  const where = s.store === 'localfs' ? s.location : `s3://${s.bucket}${s.endpoint ? ` at ${s.endpoint}` : ''}`;

  /** Takes the cut, or returns the one already taken for this backup (commit is idempotent). */
  const takeCut = async (ctx: RoleContext): Promise<LocalCut | S3Cut> => {
    const file = join(ctx.workDir, 'cut.json');
    const old = await readFile(file, 'utf8').catch(() => null);
    if (old) return JSON.parse(old) as LocalCut | S3Cut;
    let cut: LocalCut | S3Cut;
    if (s.store === 'localfs') cut = await listFolder(s.location);
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
      const list = cut.store === 'localfs' ? cut.files : cut.objects;
      return { cutAt: cut.cutAt, store: cut.store, location: where, fileCount: list.length, bytes: list.reduce((a, f) => a + f.size, 0) };
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
      await ctx.destination.remove(base(ctx));
    },

    async recover(_activeTag: string | null, _log: Logger) {},

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
    const cut = JSON.parse(raw) as LocalCut | S3Cut;
    const startedAt = Date.now();
    let files: StoredFile[];
    let kept: (ListedFile | ListedObject)[];
    let listing: FilesListing;
    let report: { changed: { path: string }[]; missing: string[]; unstorable: { path: string; reason: string }[] };
    if (cut.store === 'localfs') {
      const split = splitFolderCut(cut, await parentAttachments(ctx, cut));
      kept = split.kept;
      const r = await copyFolder(ctx, split.copy, base(ctx), s.concurrency);
      files = storedFiles(r);
      report = { changed: r.changed, missing: r.missing, unstorable: [...cut.skipped, ...r.unstorable] };
      listing = {
        format: 'tandem.files-listing/v2',
        cutAt: cut.cutAt,
        store: 'localfs',
        location: cut.location,
        files: [...r.stored.map(({ dest: _d, ...f }) => f), ...split.kept].sort((a, b) => (a.path < b.path ? -1 : 1)),
        dirs: cut.dirs,
        ...report,
        summary: '',
      };
    } else {
      const client = storeClient(s as Extract<ResolvedFilesSettings, { store: 's3' }>);
      try {
        const split = splitBucketCut(cut, await parentAttachments(ctx, cut));
        kept = split.kept;
        const r = await copyBucket(ctx, client, split.copy, base(ctx), s.concurrency);
        files = r.stored.map(({ key: _k, ...f }) => f);
        report = { changed: r.changed, missing: r.missing, unstorable: r.unstorable };
        listing = {
          format: 'tandem.files-listing/v2',
          cutAt: cut.cutAt,
          store: 's3',
          bucket: cut.bucket,
          endpoint: cut.endpoint,
          objects: [...r.stored.map((o): ListedObject => ({ key: o.key, size: o.size, etag: o.etag, sha256: o.sha256 })), ...split.kept].sort((a, b) => (a.key < b.key ? -1 : 1)),
          ...report,
          summary: '',
        };
      } finally {
        client.destroy();
      }
    }
    const bytes = files.reduce((a, f) => a + f.size, 0);
    ctx.span({ phase: 'copy', startedAt, endedAt: Date.now(), files: files.length, bytesIn: bytes, bytesOut: bytes });
    const referenced = { files: kept.length, bytes: kept.reduce((a, f) => a + f.size, 0) };
    const summary = shipSummary(files, report.changed, report.missing, report.unstorable, referenced);
    if (ctx.parent) ctx.log.info({ parent: ctx.parent.backupId, stored: files.length, referenced: referenced.files, referencedBytes: referenced.bytes }, 'files: attachments unchanged since the parent set are kept by the earlier sets that store them');
    if (report.changed.length || report.missing.length || report.unstorable.length) {
      ctx.log.warn({ changed: report.changed.length, missing: report.missing.length, unstorable: report.unstorable.length, summary }, 'files differ from the cut');
    }
    const body = JSON.stringify({ ...listing, summary }) + '\n';
    const ref: FileRef = await writeReferenced(ctx.destination, `${base(ctx)}/listing.json`, body);
    const examples = [...report.missing.slice(0, 20), ...report.changed.slice(0, 20).map((c) => c.path), ...report.unstorable.slice(0, 20).map((u) => u.path)];
    const part: FilesPart = {
      store: cut.store,
      location: where,
      fileCount: files.length,
      bytes,
      deviations: { changed: report.changed.length, missing: report.missing.length, unstorable: report.unstorable.length, examples },
      summary,
      listing: ref,
      referenced,
    };
    // The attachments are listed in listing.json, not one by one in the manifest; those kept by
    // earlier sets are named there (entries' `set`), not in the manifest's references.
    return { part, files: [ref], listed: { files: files.length, bytes } };
  }
}
