/**
 * Restore of the elasticsearch role: the official procedure (delete the index, restore the
 * snapshot) plus what the vendor script leaves out: the restore response is checked (zero failed
 * shards), counts are compared with the ones recorded at the cut, and a drill can restore under
 * a prefix (index_prefix) next to the live index and drop it afterwards (drop_scratch=true).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { PreconditionError, TandemError, ValidationError } from '../../../shared/errors';
import { ES_INDEX } from '../../../shared/names';
import { addRebuildFlag, checkRebuildFlagWritable } from '../rebuild-flag';
import type { EsSnapshotRecord } from '../../../shared/parts/elasticsearch';
import type { IndexDocuments } from '../../../shared/generated/tandem/v2/agent';
import { restoreSource } from '../restore-source';
import type { PhaseOutcome, RestoreContext, RestorePhase } from '../role';
import { esProblem } from './client';
import type { ResolvedEsSettings } from './config';
import * as es from './snapshot';
import { dropStagedBack, stageBack, stagedRestoreLocation, stagedRestoreRepository, unregisterStagedRestore } from './staging';

/** What ship recorded about the snapshot (the part, when the index was not skipped). */
type EsPart = EsSnapshotRecord;

/** What load did; also kept in workDir so a repeated load does not restore twice. */
interface LoadResult {
  repository: string;
  snapshot: string;
  uuid?: string;
  indices: Record<string, string>; // source index -> restored index
  shards: { total: number; successful: number; failed: number };
  deleted: string[];
  /** Aliases taken off indices the backup does not hold (a newer thehive_global1 after a rebuild). */
  unaliased?: { alias: string; index: string }[];
}

/** What the load phase says when TheHive's index must be rebuilt (not backed up, or asked for). */
const REBUILD = 'TheHive\'s index must be rebuilt: start TheHive once with db.janusgraph.forceDropAndRebuildIndex = true (then remove it), or POST /api/v1/admin/index/all/rebuild';

/** The index prefix of a drill, validated (it becomes part of index names); '' when restoring in place. */
function indexPrefix(ctx: RestoreContext): string {
  // Checked where the request entered (restoreOptionsSchema): it must start like an index name.
  return ctx.options.indexPrefix ?? '';
}

/** The restored name of each source index. */
const targetsOf = (indices: readonly string[], prefix: string) => Object.fromEntries(indices.map((i) => [i, prefix + i]));

/** Runs one restore phase of the elasticsearch role; `withClient` gives a client closed after use. */
export async function restoreElasticsearch(
  phase: RestorePhase,
  ctx: RestoreContext,
  withClient: <T>(fn: (c: Client) => Promise<T>) => Promise<T>,
  s: ResolvedEsSettings,
): Promise<PhaseOutcome | null> {
  const { url, snapshotTimeoutMs: timeoutMs, theHiveConfig } = s;
  const rebuild = ctx.options.rebuildIndex;
  // Checked in the first phase, before anything is dropped: the flag must be writable at the end.
  if (phase === 'fetch' && rebuild) await checkRebuildFlagWritable(theHiveConfig);
  if (phase === 'schema') return null;
  const src = restoreSource(ctx, 'elasticsearch');
  const stored = 'skipped' in src.part ? null : src.part;
  // An encrypted set holds its snapshot's repository files: fetch decrypts them back into a
  // staging repository, which the load restores from and cleanup drops.
  const staged = stored?.staged;
  if (phase === 'fetch') {
    if (!staged || !stored) return null;
    await withClient((c) => unregisterStagedRestore(c, s));
    await stageBack(ctx, s, src.node, staged);
    return { detail: `staged the index's ${staged.files.length} repository files back (${staged.bytes} bytes)` };
  }
  if (phase === 'check' && staged) return { ok: true, detail: `the index is stored in the set (${staged.files.length} files, checked with the set's files)` };
  const part = stored && staged ? { ...stored, repository: { name: stagedRestoreRepository(s), type: 'fs', location: stagedRestoreLocation(s) } } : stored;
  const prefix = indexPrefix(ctx);
  const wrap = (what: string) => (err: unknown) => {
    throw err instanceof TandemError ? err : new TandemError(`${what}: ${esProblem(err, url)}`, {}, { cause: err });
  };
  if (phase === 'load') {
    const loaded = part ? await withClient((c) => load(c, ctx, part, prefix, timeoutMs)).catch(wrap('elasticsearch restore')) : null;
    const said = loaded ? describeLoad(loaded) : 'the index was not backed up (--skip-index)';
    if (part && !rebuild) return { detail: said };
    const applied = rebuild ? await addRebuildFlag(theHiveConfig!, ctx.restoreId) : undefined;
    return { detail: `${said}; ${REBUILD}` + (applied ? `; the flag is set in ${theHiveConfig}` : '') };
  }
  if (!part) return null;
  if (phase === 'check') return withClient((c) => checkSnapshot(c, part)).catch(wrap('elasticsearch check'));
  const targets = targetsOf(part.indices, prefix);
  if (phase === 'verify') {
    const commit = src.commit && !('skipped' in src.commit) ? src.commit : undefined;
    return withClient((c) => verify(c, targets, commit?.docCounts ?? part.docCounts)).catch(wrap('elasticsearch verify'));
  }
  // cleanup: the staged plaintext always goes; only a drill's renamed copies are ever dropped, never indices restored in place.
  if (staged) await withClient((c) => dropStagedBack(c, s)).catch(wrap('dropping the staged index'));
  if (!ctx.options.dropScratch || !prefix) return null;
  const names = Object.values(targets);
  await withClient((c) => c.indices.delete({ index: names, ignore_unavailable: true, expand_wildcards: 'none' })).catch(wrap('dropping the drill indices'));
  ctx.log.info({ indices: names }, 'dropped the drill indices');
  return { detail: `dropped ${names.join(', ')}` };
}

/** One line for the operator about a finished load. */
function describeLoad(r: LoadResult): string {
  return `restored ${r.repository}/${r.snapshot} as ${Object.values(r.indices).join(', ')} (${r.shards.successful}/${r.shards.total} shards)` +
    (r.deleted.length ? `; deleted ${r.deleted.join(', ')} first` : '') +
    (r.unaliased?.length ? `; took aliases off ${r.unaliased.map((u) => `${u.index} (${u.alias})`).join(', ')}, left in place` : '');
}

/**
 * An in-place restore brings the snapshot's aliases back with its indices. If such an alias now
 * points at another index (TheHive's `thehive` on `thehive_global1` after an index rebuild), it
 * would span both, and TheHive would see every document twice: it is taken off the other index
 * first, which is left in place (and reported) for the operator to delete.
 */
async function takeAliasesOffOthers(c: Client, ctx: RestoreContext, aliases: Record<string, string[]>, restored: string[]) {
  const names = [...new Set(Object.values(aliases).flat())];
  if (!names.length) return [];
  const current = await c.indices.getAlias({ name: names, expand_wildcards: 'all' }, { ignore: [404] });
  const actions: { alias: string; index: string }[] = [];
  for (const [index, v] of Object.entries(current ?? {})) {
    if (restored.includes(index)) continue;
    for (const alias of Object.keys((v as { aliases?: Record<string, unknown> }).aliases ?? {})) if (names.includes(alias)) actions.push({ alias, index });
  }
  if (!actions.length) return [];
  await c.indices.updateAliases({ actions: actions.map((a) => ({ remove: a })) });
  ctx.log.warn({ unaliased: actions }, 'took the restored aliases off indices the backup does not hold; those indices are left in place');
  return actions;
}

/** Deletes the target indices and restores the snapshot into them; requires zero failed shards. */
async function load(c: Client, ctx: RestoreContext, part: EsPart, prefix: string, timeoutMs: number): Promise<LoadResult> {
  const repository = part.repository.name;
  const snapshot = part.snapshot;
  const markerFile = join(ctx.workDir, 'es-load.json');
  // Written by this agent after its own load: trusted local state, not destination input.
  const marker = await readFile(markerFile, 'utf8').then((t) => JSON.parse(t) as LoadResult & { prefix: string }, () => null);
  // A load that already finished is not redone (that would delete and restore again) while its indices are still there.
  if (marker && marker.snapshot === snapshot && marker.prefix === prefix) {
    const there = await c.indices.exists({ index: Object.values(marker.indices), expand_wildcards: 'none' });
    if (there) return { repository: marker.repository, snapshot: marker.snapshot, uuid: marker.uuid, indices: marker.indices, shards: marker.shards, deleted: marker.deleted, unaliased: marker.unaliased };
  }
  await ensureRepository(c, ctx, part);
  const snap = await es.getSnapshot(c, repository, snapshot);
  if (!snap) throw new PreconditionError(`snapshot ${repository}/${snapshot} does not exist in the repository (deleted, or the repository is not the one the backup used)`);
  if (snap.state !== 'SUCCESS') throw new PreconditionError(`snapshot ${repository}/${snapshot} is ${snap.state}, not SUCCESS: it cannot be restored as a whole`);
  if (part.uuid && snap.uuid && snap.uuid !== part.uuid) throw new PreconditionError(`snapshot ${repository}/${snapshot} has uuid ${snap.uuid}, not ${part.uuid} as recorded: it is another snapshot with the same name`);
  const indices = (snap.indices ?? []).filter((i) => !i.startsWith('.')).sort();
  if (!indices.length) throw new PreconditionError(`snapshot ${repository}/${snapshot} holds no index`);
  const targets = targetsOf(indices, prefix);
  for (const t of Object.values(targets)) if (!ES_INDEX.test(t)) throw new ValidationError(`restored index name ${t} is not valid`);
  // The vendor procedure deletes the index first: a restore cannot overwrite an open index.
  const existing = await c.indices.resolveIndex({ name: Object.values(targets).join(','), expand_wildcards: 'all', ignore_unavailable: true });
  const deleted = existing.indices.map((i) => i.name).filter((n) => Object.values(targets).includes(n));
  if (deleted.length) {
    await c.indices.delete({ index: deleted, expand_wildcards: 'none' });
    ctx.log.warn({ indices: deleted }, 'deleted the indices the snapshot is restored into');
  }
  const renamed = prefix !== '';
  const unaliased = renamed ? [] : await takeAliasesOffOthers(c, ctx, part.aliases, Object.values(targets));
  const r = await c.snapshot.restore(
    {
      repository,
      snapshot,
      wait_for_completion: true,
      indices,
      include_global_state: false,
      // A renamed copy must not take over the live aliases (thehive -> thehive_global).
      include_aliases: !renamed,
      ...(renamed ? { rename_pattern: '(.+)', rename_replacement: `${prefix}$1` } : {}),
    },
    { requestTimeout: timeoutMs },
  );
  const shards = r.snapshot?.shards;
  // The vendor script never looks at this: a failed shard means an index restored with holes.
  if (!shards) throw new TandemError(`restore of ${repository}/${snapshot} returned no shard report (accepted only?); check GET _cat/recovery`);
  if (shards.failed !== 0 || shards.successful !== shards.total) {
    const why = (shards.failures ?? []).map((f) => `${f.index}[${f.shard}]: ${JSON.stringify(f.reason?.reason ?? f.reason)}`).slice(0, 5).join('; ');
    throw new TandemError(`restore of ${repository}/${snapshot}: ${shards.failed}/${shards.total} shards failed` + (why ? `: ${why}` : ''));
  }
  const result: LoadResult = { repository, snapshot, uuid: snap.uuid, indices: targets, shards: { total: shards.total, successful: shards.successful, failed: shards.failed }, deleted, unaliased };
  await mkdir(ctx.workDir, { recursive: true });
  await writeFile(markerFile, JSON.stringify({ ...result, prefix }));
  ctx.log.info({ repository, snapshot, indices: targets, shards: result.shards }, 'restored the Elasticsearch snapshot');
  return result;
}

/** Registers the backup's fs repository read-only when this cluster does not know it (restore to another cluster). */
async function ensureRepository(c: Client, ctx: RestoreContext, part: EsPart): Promise<void> {
  const repo = part.repository;
  if ((await es.repositoryInfo(c, repo.name)).exists) return;
  if (repo.type !== 'fs' || !repo.location) {
    throw new PreconditionError(`snapshot repository ${repo.name} does not exist on this cluster; register it (type ${repo.type ?? '?'}) pointing at the backup's snapshots`);
  }
  try {
    // readonly: a restoring cluster must never write into the repository another cluster backs up to.
    await c.snapshot.createRepository({ name: repo.name, verify: true, repository: { type: 'fs', settings: { location: repo.location, readonly: true } } });
  } catch (err) {
    throw new PreconditionError(`snapshot repository ${repo.name} does not exist here and cannot be registered at ${repo.location} (${esProblem(err, '')}); mount the share and add it to path.repo`, {}, { cause: err });
  }
  ctx.log.info({ repository: repo.name, location: repo.location }, 'registered the backup repository read-only');
}

/** Refreshes and counts every restored index against the count recorded at the cut. */
async function verify(c: Client, targets: Record<string, string>, expected: Record<string, number>): Promise<PhaseOutcome> {
  const names = Object.values(targets);
  if (!names.length) return { ok: true };
  await c.indices.refresh({ index: names, expand_wildcards: 'none' });
  const indices: IndexDocuments[] = [];
  const mismatches: string[] = [];
  let ok = true;
  for (const [source, target] of Object.entries(targets)) {
    const actual = (await c.count({ index: target, expand_wildcards: 'none' })).count;
    const want = expected[source];
    indices.push({ index: target, actual, counted: want !== undefined, expected: want ?? 0 });
    if (want === undefined) continue;
    // Counts were taken just before the snapshot started while TheHive may write: more is fine, fewer is not.
    if (actual < want) ok = false;
    if (actual !== want) mismatches.push(`${target}: ${actual} documents, ${want} counted at the cut`);
  }
  // More documents than at the cut is fine (TheHive wrote meanwhile): reported, not a failure.
  return { indices, ok, problems: ok ? [] : mismatches, detail: ok && mismatches.length ? mismatches.join('; ') : '' };
}

/** For `tandem verify`: the snapshot still exists in its repository, SUCCESS, with the recorded uuid. */
async function checkSnapshot(c: Client, part: EsPart): Promise<PhaseOutcome> {
  const name = `${part.repository.name}/${part.snapshot}`;
  const snap = await es.getSnapshot(c, part.repository.name, part.snapshot);
  if (!snap) return { ok: false, problems: [`snapshot ${name} is missing from the repository`] };
  const problems: string[] = [];
  if (snap.state !== 'SUCCESS') problems.push(`snapshot ${name} is ${snap.state}, not SUCCESS`);
  if (part.uuid && snap.uuid && snap.uuid !== part.uuid) problems.push(`snapshot ${name} has uuid ${snap.uuid}, not ${part.uuid} as recorded`);
  return { ok: problems.length === 0, problems, detail: `snapshot ${name} is ${snap.state}` };
}
