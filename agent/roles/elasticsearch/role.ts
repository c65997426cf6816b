/**
 * The elasticsearch role: an Elasticsearch snapshot of TheHive's index (and audit indices) in an
 * ES snapshot repository, started at the commit instant and waited for in ship. The snapshot
 * data stays in the repository (that is how ES backups work); the backup set gets a
 * self-describing record at `<backupId>/<node>/elasticsearch/snapshot.json`. Of an encrypted set,
 * the snapshot is taken into a staging repository whose files are stored in the set (staging.ts).
 */
import { roleFolder, snapshotRecordPath } from '../../../shared/destination/layout';
import { writeReferenced } from '../../../shared/parts/io';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { errorMessage, PreconditionError, ValidationError } from '../../../shared/errors';
import type { Logger } from '../../../shared/log';
import { esCommitSchema, type EsCommit, type EsPart, type EsSnapshotRecord } from '../../../shared/parts/elasticsearch';
import type { CheckResult, RestorableRole, RestorePhase, RestoreContext, RoleContext, ShipResult, SnapshotDeleter } from '../role';
import { ES_REPOSITORY, TANDEM_ES_SNAPSHOT } from '../../../shared/names';
import { esClient, esErrorType, esProblem, esStatus } from './client';
import { resolveEsSettings, type EsSettings, type ResolvedEsSettings } from './config';
import { esClusterStatus, esNodeVersion } from './probe';
import { restoreElasticsearch } from './restore';
import * as es from './snapshot';
import { dropStaging, openStaging, pathRepoProblem, stagingRepository, stagingRoot, storeStaged } from './staging';

/** What commit records when the snapshot was started (the manifest's commits.elasticsearch). */
type EsCommitRecord = Exclude<EsCommit, { skipped: true }>;

/** What Prepare finds and counts, so that Commit only starts the snapshot. */
interface PreparedSnapshot {
  indices: string[];
  docCounts: Record<string, number>;
}

/** Commit/ship result when the backup was asked to leave the index out. */
const SKIPPED = { skipped: true, reason: 'index must be rebuilt on restore' } as const;

const skipIndex = (ctx: RoleContext) => ctx.options.skipIndex;
/** An encrypted set: the snapshot goes to the staging repository, and its files into the set. */
const sealed = (ctx: RoleContext) => Boolean(ctx.options.setRecipient);
/** ES snapshot names must be lowercase; tandem's tags are the (lowercase) backup ids. */
const snapshotName = (ctx: RoleContext) => ctx.tag.toLowerCase();

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Creates the elasticsearch role; reads theHiveConfig now (ConfigError if unusable). */
export function elasticsearchRole(settings: EsSettings): RestorableRole & SnapshotDeleter {
  const s: ResolvedEsSettings = resolveEsSettings(settings);
  /** What Prepare readied per backup: the indices, their counts and a connected client. */
  const prepared = new Map<string, PreparedSnapshot & { client: Client }>();

  /** Starts the snapshot without waiting for it: its point in time is when ES accepts it, i.e. now; ship waits for it. */
  const startSnapshot = async (ctx: RoleContext, c: Client, prep: PreparedSnapshot): Promise<EsCommitRecord> => {
    const snapshot = snapshotName(ctx);
    const repository = sealed(ctx) ? stagingRepository(s) : s.repository;
    let cutAt = Date.now();
    try {
      await c.snapshot.create({
        repository,
        snapshot,
        wait_for_completion: false,
        indices: prep.indices,
        ignore_unavailable: false,
        include_global_state: false,
        metadata: { taken_by: 'tandem', backup_id: ctx.backupId, node: ctx.node },
      });
    } catch (err) {
      const existing = esErrorType(err) === 'invalid_snapshot_name_exception' ? await es.getSnapshot(c, repository, snapshot) : null;
      if (!existing) throw new PreconditionError(`cannot start snapshot ${repository}/${snapshot}: ${esProblem(err, s.url)}`, {}, { cause: err });
      cutAt = existing.start_time_in_millis ?? cutAt; // started by an earlier attempt of this commit
    }
    const rec: EsCommitRecord = { cutAt, repository, snapshot, indices: prep.indices, docCounts: prep.docCounts };
    await mkdir(ctx.workDir, { recursive: true });
    await writeFile(join(ctx.workDir, 'commit.json'), JSON.stringify(rec));
    return rec;
  };

  /** A client per call, closed after it, so no keep-alive socket outlives the step. */
  const withClient = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = esClient(s);
    try {
      return await fn(c);
    } finally {
      await c.close().catch(() => undefined);
    }
  };

  return {
    name: 'elasticsearch',

    // Both by plain HTTP (probe.ts): an agent that only waits never loads the client library.
    async versions() {
      return esNodeVersion(s).then((v) => ({ elasticsearch: v }), () => ({}));
    },

    async health(signal: AbortSignal) {
      // Reachable and not red: a red cluster answers but cannot snapshot or restore TheHive's index.
      const status = await esClusterStatus(s, signal).catch((err: unknown) => {
        throw new PreconditionError(errorMessage(err), {}, { cause: err });
      });
      if (status === 'red') throw new PreconditionError(`Elasticsearch at ${s.url} answers, but its cluster health is red`);
    },

    async preflight(ctx: RoleContext): Promise<CheckResult[]> {
      if (skipIndex(ctx)) return [{ name: 'skipped', ok: true, message: '--skip-index: the index is not backed up and must be rebuilt on restore' }];
      return withClient(async (c) => {
        const checks = await preflightChecks(c, s, ctx.options.allowYellow, sealed(ctx));
        // Only a reachable cluster with its repository in order can say whether the name is free (a staging repository starts empty).
        return checks.every((x) => x.ok) && !sealed(ctx) ? [...checks, await snapshotNameFree(c, s.repository, snapshotName(ctx))] : checks;
      });
    },

    async prepare(ctx: RoleContext) {
      if (skipIndex(ctx)) return;
      const c = esClient(s);
      try {
        const repo = sealed(ctx) ? { exists: true } : await es.repositoryInfo(c, s.repository);
        if (sealed(ctx)) await openStaging(c, s);
        if (!repo.exists) {
          if (!s.repositoryLocation) throw new PreconditionError(`snapshot repository ${s.repository} does not exist; create it or set repositoryLocation`);
          // verify=true makes every node check it can write the location (a shared folder on a cluster).
          await c.snapshot.createRepository({ name: s.repository, verify: true, repository: { type: 'fs', settings: { location: s.repositoryLocation } } });
          ctx.log.info({ repository: s.repository, location: s.repositoryLocation }, 'created fs snapshot repository');
        }
        const indices = await es.discoverIndices(c, s.indexPatterns);
        if (!indices.length) throw new PreconditionError(`no open index matches ${s.indexPatterns.join(', ')}`);
        // Counted before the vote, so that Commit only sends the snapshot request. TheHive adds
        // documents: what the snapshot holds is at least this (restore verify checks "not fewer").
        const prep: PreparedSnapshot = { indices, docCounts: await es.docCounts(c, indices) };
        await mkdir(ctx.workDir, { recursive: true });
        await writeFile(join(ctx.workDir, 'prepared.json'), JSON.stringify(prep));
        // The client (and its open connection) waits for Commit.
        prepared.get(ctx.backupId)?.client.close().catch(() => undefined);
        prepared.set(ctx.backupId, { ...prep, client: c });
      } catch (err) {
        await c.close().catch(() => undefined);
        throw err instanceof PreconditionError ? err : new PreconditionError(esProblem(err, s.url), {}, { cause: err });
      }
    },

    async commit(ctx: RoleContext) {
      if (skipIndex(ctx)) return { ...SKIPPED };
      const warm = prepared.get(ctx.backupId);
      prepared.delete(ctx.backupId);
      if (warm) {
        try {
          return await startSnapshot(ctx, warm.client, warm);
        } finally {
          await warm.client.close().catch(() => undefined);
        }
      }
      // A repeated commit, or one after the agent restarted: from what Prepare and the first commit wrote.
      const done = await readJson<EsCommitRecord>(join(ctx.workDir, 'commit.json'));
      if (done) return done; // a repeated commit reports the same cut
      return withClient(async (c) => {
        const prep = (await readJson<PreparedSnapshot>(join(ctx.workDir, 'prepared.json'))) ?? { indices: await es.discoverIndices(c, s.indexPatterns), docCounts: {} };
        if (!Object.keys(prep.docCounts).length) prep.docCounts = await es.docCounts(c, prep.indices);
        return startSnapshot(ctx, c, prep);
      });
    },

    async ship(ctx: RoleContext, commitRecord: unknown): Promise<ShipResult> {
      const cut = esCommitSchema.parse(commitRecord);
      if ('skipped' in cut) return { part: { ...SKIPPED, summary: 'index not backed up (--skip-index)' } satisfies EsPart, files: [] };
      return withClient(async (c) => {
        const snap = await es.waitForSnapshot(c, cut.repository, cut.snapshot, {
          timeoutMs: s.snapshotTimeoutMs,
          pollMs: s.pollIntervalMs,
          signal: ctx.signal,
          onPoll: (done, total) => ctx.progress({ phase: 'snapshot', filesDone: done, filesTotal: total }),
        });
        // From the snapshot's start (the cut) to the moment ES reported it finished, both by this agent's clock.
        ctx.span({ phase: 'snapshot', startedAt: cut.cutAt, endedAt: Date.now() });
        const repo = await es.repositoryInfo(c, cut.repository);
        const sizes = await es.snapshotSizes(c, cut.repository, snap.snapshot);
        // The aliases the snapshot carries, so an in-place restore can take them off newer indices.
        const aliases = await es.aliasesOf(c, snap.indices ?? cut.indices);
        // An encrypted set stores the staging repository's files, then drops it: nothing of the index stays outside the set.
        const staged = sealed(ctx) ? await storeStaged(ctx, s) : undefined;
        const record: EsSnapshotRecord = {
          format: 'tandem.es-snapshot/v1',
          url: s.url,
          repository: { name: cut.repository, type: repo.type, location: repo.location },
          snapshot: snap.snapshot,
          uuid: snap.uuid,
          state: snap.state,
          esVersion: snap.version,
          indices: snap.indices ?? cut.indices,
          shards: snap.shards ? { total: snap.shards.total, successful: snap.shards.successful, failed: snap.shards.failed } : undefined,
          docCounts: cut.docCounts,
          aliases,
          cutAt: cut.cutAt,
          startTime: snap.start_time_in_millis,
          endTime: snap.end_time_in_millis,
          durationMs: snap.duration_in_millis,
          ...(sizes ? { sizes } : {}),
          ...(staged ? { staged } : {}),
        };
        const body = JSON.stringify(record, null, 2) + '\n';
        const ref = await writeReferenced(ctx.destination, snapshotRecordPath(ctx.backupId, ctx.node), body);
        if (staged) await dropStaging(c, s);
        const summary = `snapshot ${record.snapshot} ${record.state ?? ''} of ${record.indices.length} indices` + (staged
          ? `, its ${staged.files.length} repository files (${staged.bytes} bytes) stored in the set, encrypted`
          : sizes ? `, ${sizes.addedBytes} of its ${sizes.totalBytes} bytes new to repository ${cut.repository} (the rest is shared with earlier snapshots there)` : '');
        return { part: { ...record, record: ref, summary } satisfies EsPart, files: [ref, ...(staged?.files ?? [])] };
      });
    },

    async cleanup(ctx: RoleContext) {
      // A backup aborted between Prepare and Commit leaves its waiting client.
      await prepared.get(ctx.backupId)?.client.close().catch(() => undefined);
      prepared.delete(ctx.backupId);
    },

    async abort(ctx: RoleContext) {
      if (!skipIndex(ctx) && sealed(ctx)) {
        await withClient((c) => dropStaging(c, s, snapshotName(ctx)));
      } else if (!skipIndex(ctx)) {
        // Deleting a running snapshot cancels it; a snapshot that never started is a no-op.
        const deleted = await withClient((c) => es.deleteSnapshot(c, s.repository, snapshotName(ctx)));
        if (deleted) ctx.log.info({ snapshot: snapshotName(ctx) }, 'deleted the Elasticsearch snapshot');
      }
      await ctx.destination.remove(roleFolder(ctx.backupId, ctx.node, 'elasticsearch'));
    },

    async recover(_activeTag: string | null, _log: Logger) {},

    async deleteSnapshot(repository: string, snapshot: string) {
      // The request comes over the network: only tandem's own snapshots, only in this role's repository.
      if (!ES_REPOSITORY.test(repository) || repository !== s.repository) {
        throw new ValidationError(`repository ${JSON.stringify(repository)} is not this agent's snapshot repository (${s.repository}); the set was made by another Elasticsearch configuration: delete its snapshot there`, { repository });
      }
      if (!TANDEM_ES_SNAPSHOT.test(snapshot)) throw new ValidationError(`snapshot ${JSON.stringify(snapshot)} is not a tandem snapshot name (${TANDEM_ES_SNAPSHOT.source}); tandem deletes only its own snapshots`, { snapshot });
      return withClient((c) => es.deleteSnapshot(c, repository, snapshot)).catch((err) => {
        throw new PreconditionError(`cannot delete snapshot ${repository}/${snapshot}: ${esProblem(err, s.url)}`, { snapshot }, { cause: err });
      });
    },

    async restore(phase: RestorePhase, ctx: RestoreContext) {
      return restoreElasticsearch(phase, ctx, withClient, s);
    },
  };
}

/** Read-only checks: reachable, health, repository (the staging one of an encrypted set), indices, no snapshot running. */
async function preflightChecks(c: Client, s: ResolvedEsSettings, yellowOption: boolean, staging: boolean): Promise<CheckResult[]> {
  let health;
  try {
    health = await c.cluster.health();
  } catch (err) {
    return [{ name: 'reachable', ok: false, message: esProblem(err, s.url) }];
  }
  const out: CheckResult[] = [{ name: 'reachable', ok: true, message: `${s.url} (cluster ${health.cluster_name})` }];
  const yellowOk = s.allowYellow || yellowOption;
  const st = String(health.status).toLowerCase();
  const healthy = st === 'green' || (st === 'yellow' && yellowOk);
  out.push({
    name: 'health',
    ok: healthy,
    message: healthy ? `cluster is ${st}` : `cluster is ${st}${st === 'yellow' ? ' (set allowYellow or option allow_yellow=true to accept it)' : ''}`,
  });
  const check = async (name: string, fn: () => Promise<CheckResult>) => {
    try {
      out.push(await fn());
    } catch (err) {
      out.push({ name, ok: false, message: esProblem(err, s.url) });
    }
  };
  await check('repository', () => (staging ? stagingCheck(c, s) : repositoryCheck(c, s)));
  await check('indices', async () => {
    const indices = await es.discoverIndices(c, s.indexPatterns);
    return indices.length
      ? { name: 'indices', ok: true, message: `${indices.length} indices: ${indices.join(', ')}` }
      : { name: 'indices', ok: false, message: `no open index matches ${s.indexPatterns.join(', ')}; is TheHive's index on this cluster?` };
  });
  await check('snapshots', async () => {
    const running = await es.runningSnapshots(c);
    return running.length
      ? { name: 'snapshots', ok: false, message: `a snapshot is already running: ${running.join(', ')}` }
      : { name: 'snapshots', ok: true, message: 'no snapshot running' };
  });
  return out;
}

/** The repository exists and verifies, or can be created at repositoryLocation (inside every node's path.repo). */
async function repositoryCheck(c: Client, s: ResolvedEsSettings): Promise<CheckResult> {
  const name = 'repository';
  const repo = await es.repositoryInfo(c, s.repository);
  const want = s.repositoryLocation;
  if (repo.exists) {
    if (want && (repo.type !== 'fs' || repo.location !== want)) {
      return { name, ok: false, message: `repository ${s.repository} exists as ${repo.type} at ${repo.location ?? '?'}, not fs at ${want} (repositoryLocation)` };
    }
    const v = await c.snapshot.verifyRepository({ name: s.repository });
    return { name, ok: true, message: `repository ${s.repository} (${repo.type}${repo.location ? ` at ${repo.location}` : ''}) verified on ${Object.keys(v.nodes).length} node(s)` };
  }
  if (!want) return { name, ok: false, message: `snapshot repository ${s.repository} does not exist; create it or set repositoryLocation` };
  const problem = await pathRepoProblem(c, want, 'repositoryLocation');
  if (problem) return { name, ok: false, message: problem };
  return { name, ok: true, message: `repository ${s.repository} will be created (fs at ${want})` };
}

/** An encrypted set's staging folder is configured and inside every node's path.repo. */
async function stagingCheck(c: Client, s: ResolvedEsSettings): Promise<CheckResult> {
  const name = 'repository';
  const root = stagingRoot(s);
  if (!root) return { name, ok: false, message: 'an encrypted set stores the index through a staging repository: set roles.elasticsearch.stagingLocation to a folder inside path.repo (or set repositoryLocation)' };
  const problem = await pathRepoProblem(c, root, 'roles.elasticsearch.stagingLocation');
  return problem ? { name, ok: false, message: problem } : { name, ok: true, message: `the encrypted set's snapshot is staged in ${root} (repository ${stagingRepository(s)}), then stored in the set` };
}

/** A snapshot of the same name would make Commit fail: vote no now, with the reason. */
async function snapshotNameFree(c: Client, repository: string, snapshot: string): Promise<CheckResult> {
  try {
    await c.snapshot.get({ repository, snapshot });
    return { name: 'snapshot name', ok: false, message: `snapshot ${snapshot} already exists in repository ${repository}; use another backup id` };
  } catch (err) {
    // 404: no such snapshot (or no repository yet, which prepare creates): the name is free.
    if (esStatus(err) === 404) return { name: 'snapshot name', ok: true, message: `snapshot ${snapshot} is free` };
    return { name: 'snapshot name', ok: false, message: `cannot check snapshot ${snapshot}: ${(err as Error).message}` };
  }
}
