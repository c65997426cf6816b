/**
 * `tandem prune` and `tandem delete`: removes backup sets without ever removing a file a kept set
 * needs. The kept sets are those whose manifests are present at the start and that are not being
 * removed; what they need is read once (sets/needs.ts), before anything is deleted.
 *
 * Each removed set goes in an order that a kill at any instant leaves safe, and that the next
 * prune finishes: (1) `<id>/pruned.json` is written, so the folder is no longer taken for a set
 * (list, parent choice, restore) nor for a fresh incomplete backup; (2) its Elasticsearch
 * snapshot is deleted through the agent (idempotent); (3) its manifest is removed; (4) every file
 * under `<id>/` that no kept set needs is removed, deepest first, and the marker last. A folder
 * whose files are still needed stays, marker included, as the store of those files.
 *
 * Only what is signed counts (sets/trust.ts): an untrusted set is neither counted by the policy nor
 * removed by it, and its needs protect nothing; a marker without a trusted signature is ignored.
 * Both are reported for the operator to look at.
 */
import { type Destination } from '../../shared/destination';
import { manifestPath, prunedMarkerPath, prunedSignaturePath, setFile, setFolder, setOfPath, setPrefix } from '../../shared/destination/layout';
import { ConflictError, ValidationError, errorMessage } from '../../shared/errors';
import { type Manifest } from '../../shared/manifest';
import { esSnapshotFor } from '../../shared/names';
import type { SigningKey } from '../../shared/signing';
import { runPool } from '../../shared/pool';
import { scanSets, type ScannedSet } from '../sets/catalog';
import { faultPoint } from '../fault-point';
import { manifestVerdict, type SetTrust, type UntrustedReason } from '../sets/trust';
import type { AgentHandle } from '../fleet';
import { deleteEsSnapshots } from './es-snapshots';
import { readMarker, writeMarker } from '../sets/marker';
import { incompleteVerdict, removals } from './plan';
import { applyPolicy, type Decision, type RetentionPolicy } from './policy';
import { esSnapshotsOf, needsOf, type EsSnapshotRef } from '../sets/needs';

/**
 * Sets removed at once. Each removal is a few round trips (marker, manifest) and then folders of
 * unlinks; a file system takes a folder's unlinks one at a time (they lock the folder), so what
 * runs side by side is folders, and the more sets in flight the more folders: 8 sets keep the
 * coordinator's thread pool (threadpool.ts) busy without holding hundreds of sets half-removed.
 */
const REMOVAL_PARALLELISM = 8;

/** What to remove: the sets the policy does not keep, or one set by id. */
export type PruneTarget = { kind: 'prune'; policy: RetentionPolicy } | { kind: 'delete'; id: string };

/** Options of one run. */
export interface PruneOptions {
  target: PruneTarget;
  /** Decide and report, remove nothing. */
  dryRun: boolean;
  /** Ids with an unfinished run in this coordinator's journal: never touched. */
  openRuns: ReadonlySet<string>;
  /**
   * The complete sets those unfinished runs build on (parent id → the run's id): kept whatever the
   * policy says, with every file they reference, until the run is completed or removed by recover
   * (its manifest will reference them).
   */
  openParents?: ReadonlyMap<string, string>;
  /** How old an incomplete set must be before it is removed, ms (a backup's lease plus its shipping time). */
  incompleteGraceMs: number;
  /** Agents, for the Elasticsearch snapshots. */
  agents: readonly AgentHandle[];
  /** Progress lines for a person. */
  say(line: string): void;
  /** What sets and markers are checked with. */
  trust: SetTrust;
  /** What signs the markers this run writes. */
  signingKey: SigningKey;
  now?: number;
}

/** What happened to one removed set or pruned folder. */
export interface RemovedSet {
  id: string;
  /** `removed`: the folder is gone; `held`: no longer a set, its folder keeps files kept sets need; `failed`: see error. */
  result: 'removed' | 'held' | 'failed';
  /** Files left in the folder for kept sets. */
  heldFiles: number;
  esSnapshotsDeleted: number;
  error?: string;
}

/** The outcome of a prune or delete, as `--json` prints it. */
export interface PruneReport {
  dryRun: boolean;
  kept: Decision[];
  removed: RemovedSet[];
  incomplete: { id: string; removed: boolean; reason: string }[];
  unreadable: { id: string; problem: string }[];
  /** Sets whose manifest is not believed: never counted, never removed by a prune. */
  untrusted: { id: string; reason: UntrustedReason; problem: string }[];
  /** pruned.json files that were not believed (unsigned, another folder's) and so did nothing. */
  ignoredMarkers: { id: string; problem: string }[];
  ok: boolean;
}

/** One set to remove, as found at the start. */
interface Victim {
  id: string;
  manifest: Manifest | null;
  /** Its pruned.json exists already (an earlier prune, or one killed midway). */
  marked: boolean;
}

/** Runs a prune or delete against `dest`; never throws for one set's failure, it reports it (ok false). */
export async function prune(dest: Destination, o: PruneOptions): Promise<PruneReport> {
  const scanned = await scanSets(dest, o.trust);
  const complete = scanned.filter((s): s is ScannedSet & { manifest: Manifest } => s.manifest !== null);
  // A set that cannot be read may need files of the sets a prune would remove, and cannot be
  // counted by the policy: nothing is removed until every set reads (or the operator deletes it).
  const blind = scanned.filter((s) => s.status === 'unreadable' && !(o.target.kind === 'delete' && o.target.id === s.id));
  if (blind.length) {
    throw new ConflictError(
      `nothing was removed: ${blind.map((s) => `backup set ${s.id} cannot be read (${s.problem ?? 'unknown'})`).join('; ')}; what it needs from other sets cannot be known. ` +
        `Run again once the destination answers; a set written by a newer tandem is read by that version; a damaged one is removed with 'tandem delete ID'`,
    );
  }
  const { victims, kept } = chooseVictims(scanned, complete, o.target, o.openParents ?? new Map());
  if (o.target.kind === 'delete' && o.openRuns.has(o.target.id)) {
    throw new ConflictError(`backup ${o.target.id} is unfinished in this coordinator's journal, nothing deleted: run 'tandem recover', which completes or removes it`);
  }
  const report: PruneReport = {
    dryRun: o.dryRun,
    kept,
    removed: [],
    incomplete: [],
    unreadable: scanned.filter((s) => s.status === 'unreadable').map((s) => ({ id: s.id, problem: s.problem ?? '' })),
    untrusted: scanned.filter((s) => s.status === 'untrusted').map((s) => ({ id: s.id, reason: s.reason!, problem: s.problem ?? '' })),
    ignoredMarkers: scanned.filter((s) => s.ignoredMarker).map((s) => ({ id: s.id, problem: s.ignoredMarker! })),
    ok: true,
  };
  const keptIds = new Set(kept.map((k) => k.id));
  // What every kept set needs, read before anything is removed.
  const needed = new Set<string>();
  for (const n of await runPool(complete.filter((s) => keptIds.has(s.id)), 4, undefined, (s) => needsOf(dest, s.manifest))) {
    for (const p of n.paths) needed.add(p);
  }
  // Every victim is marked before any is removed: a prune killed anywhere after this point leaves each one a
  // marked folder the next prune finishes, never a set that is listed while its files go.
  const unmarkable = o.dryRun ? new Map<string, string>() : await markVictims(dest, victims, o);
  for (const [id, error] of unmarkable) report.removed.push({ id, result: 'failed', heldFiles: 0, esSnapshotsDeleted: 0, error });
  // Sets are independent once what the kept sets need is known: a few at a time, each in its own safe order.
  const marked = victims.filter((v) => !unmarkable.has(v.id));
  report.removed.push(...(await runPool(marked, REMOVAL_PARALLELISM, undefined, (v) => removeSet(dest, v, needed, o))));
  if (o.target.kind === 'prune') {
    for (const s of scanned.filter((x) => x.status === 'incomplete')) {
      // A folder with a marker that is not believed may be a set pruned before sets were signed, holding files
      // that unsigned sets still need (their needs are not known here): it stays until adopted or deleted by name.
      if (s.ignoredMarker) {
        report.incomplete.push({ id: s.id, removed: false, reason: `its ${s.ignoredMarker}: if a prune of a tandem before signed sets wrote it, 'tandem adopt ${s.id}' signs it; otherwise 'tandem delete ${s.id}' removes it` });
        continue;
      }
      const verdict = incompleteVerdict({ id: s.id, journalOpen: o.openRuns.has(s.id), newestChangeMs: await dest.newestChange(setPrefix(s.id)), nowMs: o.now ?? Date.now(), graceMs: o.incompleteGraceMs });
      if (verdict.remove && !o.dryRun) {
        // An incomplete set never was a set: nothing can take it for one, no marker needed.
        const r = await removeSet(dest, { id: s.id, manifest: null, marked: false }, needed, o);
        if (r.result === 'failed') verdict.reason = r.error!;
        verdict.remove = r.result !== 'failed';
      }
      // In a dry run, `removed` says what the prune would do.
      report.incomplete.push({ id: s.id, removed: verdict.remove, reason: verdict.reason });
    }
  }
  report.ok = report.removed.every((r) => r.result !== 'failed');
  return report;
}

/** The sets to remove and the complete sets kept; ValidationError (exit 2) for an unknown id, ConflictError (exit 1) for the newest set. */
function chooseVictims(
  scanned: readonly ScannedSet[],
  complete: readonly (ScannedSet & { manifest: Manifest })[],
  target: PruneTarget,
  openParents: ReadonlyMap<string, string>,
): { victims: Victim[]; kept: Decision[] } {
  const dated = complete.map((s) => ({ id: s.id, completedAt: s.manifest.completedAt }));
  // A folder an earlier prune marked is finished whatever the policy says: it is no longer a set.
  const marked: Victim[] = scanned.filter((s) => s.status === 'pruned').map((s) => ({ id: s.id, manifest: null, marked: true }));
  if (target.kind === 'prune') {
    const decisions = applyPolicy(dated, target.policy).map((d) =>
      !d.keep && openParents.has(d.id) ? { ...d, keep: true, reasons: [...d.reasons, 'parent-of-unfinished' as const] } : d,
    );
    const drop = new Set(decisions.filter((d) => !d.keep).map((d) => d.id));
    // Oldest first: a prune stopped midway has removed the sets least likely to be wanted.
    const victims = complete.filter((s) => drop.has(s.id)).sort((a, b) => Date.parse(a.manifest.completedAt) - Date.parse(b.manifest.completedAt));
    return { victims: [...marked, ...victims.map((s) => ({ id: s.id, manifest: s.manifest, marked: false }))], kept: decisions.filter((d) => d.keep) };
  }
  const found = scanned.find((s) => s.id === target.id);
  if (!found) throw new ValidationError(`no backup set ${target.id} at the destination, nothing deleted; 'tandem list --all' shows the sets there`);
  const decisions = applyPolicy(dated, { keep_last: dated.length });
  const keptAll = (except: string) => decisions.filter((d) => d.id !== except);
  if (found.status === 'complete') {
    const child = openParents.get(target.id);
    if (child) {
      throw new ConflictError(`backup set ${target.id} is the parent of backup ${child}, unfinished in this coordinator's journal, nothing deleted: run 'tandem recover', which completes or removes ${child}, then delete it`);
    }
    if (decisions[0]?.id === target.id) {
      throw new ConflictError(`backup set ${target.id} is the newest complete set, nothing deleted: it is the one a restore would use and the parent of the next backup${decisions.length > 1 ? '' : ', and the only backup'}; take a new backup first, then delete it`);
    }
    return { victims: [{ id: found.id, manifest: found.manifest, marked: false }], kept: keptAll(target.id) };
  }
  if (found.status === 'pruned') return { victims: [{ id: found.id, manifest: null, marked: true }], kept: keptAll('') };
  // An unsigned set, or one of a key no longer trusted, may be an older set that other unsigned sets build on: what
  // those need is not known, so it is not removed until it is adopted (or its key trusted again).
  if (found.status === 'untrusted' && (found.reason === 'unsigned' || found.reason === 'unknown-key')) {
    throw new ConflictError(
      `backup set ${target.id} is untrusted (${found.reason}), nothing deleted: ${found.reason === 'unsigned' ? `if it was written before sets were signed, run 'tandem adopt ${target.id}' first` : "list its key's public file in signing.trusted first"}; if it is no set of this fleet, look at who wrote it and remove its folder by hand`,
    );
  }
  // Incomplete, unreadable or untrusted: the operator names it; its files still go only if no kept set needs them, and no snapshot with them.
  return { victims: [{ id: found.id, manifest: null, marked: false }], kept: keptAll('') };
}

/**
 * The Elasticsearch snapshots a signed marker names that belong to its set: those its manifest
 * records while that manifest is still there and trusted, else only the set's own snapshot name.
 * Nothing read at the destination can get another set's snapshot deleted.
 */
export async function markedEsSnapshots(dest: Destination, id: string, trust: SetTrust): Promise<EsSnapshotRef[]> {
  const marker = await readMarker(dest, id, trust);
  if (marker.kind !== 'trusted') return [];
  const key = (s: EsSnapshotRef) => `${s.node}/${s.repository}/${s.snapshot}`;
  const m = await manifestVerdict(dest, id, trust);
  if (m?.kind !== 'trusted') return marker.marker.esSnapshots.filter((s) => s.snapshot === esSnapshotFor(id));
  const recorded = new Set(esSnapshotsOf(m.manifest).map(key));
  return marker.marker.esSnapshots.filter((s) => recorded.has(key(s)));
}

const holding = new WeakMap<ReadonlySet<string>, Set<string>>();
/** The sets that store at least one of `needed`, worked out once per prune. */
function setsHolding(needed: ReadonlySet<string>): Set<string> {
  let sets = holding.get(needed);
  if (!sets) holding.set(needed, (sets = new Set([...needed].map(setOfPath))));
  return sets;
}

/**
 * Writes the signed marker of every victim that has none yet, naming the Elasticsearch snapshots its
 * manifest records; returns the victims whose marker could not be written, with the error (they are
 * not touched). Then the 'prune-after-marker' fault point.
 */
async function markVictims(dest: Destination, victims: readonly Victim[], o: PruneOptions): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  const unmarked = victims.filter((v) => !v.marked);
  await runPool(unmarked, REMOVAL_PARALLELISM, undefined, async (v) => {
    try {
      await writeMarker(dest, v.id, v.manifest ? esSnapshotsOf(v.manifest) : [], o.signingKey);
    } catch (err) {
      o.say(`  ${v.id}: ${errorMessage(err)}`);
      failed.set(v.id, errorMessage(err));
    }
  });
  if (unmarked.length) faultPoint('prune-after-marker');
  return failed;
}

/** Removes one marked set (or an incomplete one) in the crash-safe order; returns what happened. */
async function removeSet(dest: Destination, v: Victim, needed: ReadonlySet<string>, o: PruneOptions): Promise<RemovedSet> {
  const out: RemovedSet = { id: v.id, result: 'removed', heldFiles: 0, esSnapshotsDeleted: 0 };
  try {
    const manifestThere = v.manifest !== null || (v.marked && (await dest.stat(manifestPath(v.id))) !== null);
    let snapshots: EsSnapshotRef[] = v.manifest ? esSnapshotsOf(v.manifest) : [];
    if (v.marked && manifestThere) snapshots = await markedEsSnapshots(dest, v.id, o.trust);
    // Listing a set of thousands of files costs: it is listed only when a kept set needs something in it.
    const anyNeeded = setsHolding(needed).has(v.id);
    const own = new Set([manifestPath(v.id), prunedMarkerPath(v.id), prunedSignaturePath(v.id)]);
    const filesOf = async () => (anyNeeded ? (await dest.list(setPrefix(v.id))).map((e) => e.path).filter((p) => !own.has(p)) : []);
    if (o.dryRun) {
      const r = removals(v.id, await filesOf(), needed);
      return { ...out, result: r.whole ? 'removed' : 'held', heldFiles: r.kept.length, esSnapshotsDeleted: manifestThere ? snapshots.length : 0 };
    }
    if (manifestThere) {
      if (snapshots.length) {
        o.say(`  ${v.id}: deleting Elasticsearch snapshot ${snapshots.map((s) => `${s.repository}/${s.snapshot}`).join(', ')}`);
        out.esSnapshotsDeleted = (await deleteEsSnapshots(o.agents, snapshots)).length;
      }
      faultPoint('prune-after-snapshot');
      await dest.remove(manifestPath(v.id));
      faultPoint('prune-after-manifest-removed');
    }
    const r = removals(v.id, await filesOf(), needed);
    if (r.whole) {
      // The node folders first, the marker with the set's folder last: a kill before it goes leaves a marked folder, not an "incomplete backup".
      // The node folders side by side: each is a folder tree of its own, and the marker stays until all are gone.
      const below = (await dest.folders(setFolder(v.id))).map((f) => setFile(v.id, f));
      await Promise.all(
        below.map(async (p, i) => {
          await dest.remove(p);
          if (i === 0) faultPoint('prune-removing-files');
        }),
      );
      await dest.remove(v.id);
      o.say(`  ${v.id}: removed`);
      return out;
    }
    for (const [i, p] of r.remove.entries()) {
      await dest.remove(p);
      if (i === 0) faultPoint('prune-removing-files');
    }
    o.say(`  ${v.id}: pruned; its folder keeps ${r.kept.length} file(s) that later sets reference`);
    return { ...out, result: 'held', heldFiles: r.kept.length };
  } catch (err) {
    o.say(`  ${v.id}: ${errorMessage(err)}`);
    return { ...out, result: 'failed', error: errorMessage(err) };
  }
}
