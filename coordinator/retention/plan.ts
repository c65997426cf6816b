/**
 * The pure decisions of a prune: which files of a removed set's folder go (every one no kept set
 * needs, in as few removals as the folder tree allows), and whether an incomplete set is old
 * enough to be debris rather than a backup still being written.
 */
import { backupIdTime } from '../../shared/names';

/**
 * The files and folders under `<id>/` to remove so that every file of `files` (paths under
 * `<id>/`) that is not in `needed` goes and every needed one stays: a folder with no needed file
 * below it is removed whole. Deepest first, so a removal killed midway never leaves a folder
 * emptied of its needed files. `whole` is true when nothing is needed: the caller may remove `<id>`.
 */
export function removals(id: string, files: readonly string[], needed: ReadonlySet<string>): { remove: string[]; kept: string[]; whole: boolean } {
  const kept = files.filter((f) => needed.has(f));
  if (!kept.length) return { remove: [], kept, whole: true };
  // Every folder above a needed file must stay; any other folder is removed whole.
  const pinned = new Set<string>();
  for (const f of kept) {
    for (let i = f.indexOf('/'); i !== -1; i = f.indexOf('/', i + 1)) pinned.add(f.slice(0, i));
  }
  const remove = new Set<string>();
  for (const f of files) {
    if (needed.has(f)) continue;
    // The highest folder of f that is not pinned (below <id>, which is pinned), else the file itself.
    let target = f;
    for (let i = f.indexOf('/', id.length + 1); i !== -1; i = f.indexOf('/', i + 1)) {
      const dir = f.slice(0, i);
      if (!pinned.has(dir)) {
        target = dir;
        break;
      }
    }
    remove.add(target);
  }
  return { remove: [...remove].sort((a, b) => b.split('/').length - a.split('/').length || a.localeCompare(b)), kept, whole: false };
}

/** What a prune does with an incomplete set (a folder with neither manifest nor marker). */
export interface IncompleteVerdict {
  remove: boolean;
  reason: string;
}

/**
 * An incomplete set is removed only when no run of this coordinator's journal is still open for
 * it and it is older than `graceMs` (a backup's lease plus its shipping time: no run can still be
 * writing it). Its age is taken from the youngest of what is known, the newest change of its
 * files and the instant its generated id names, so that neither an old id written to lately nor
 * a copied-in old folder is taken for debris; a set whose age is unknown stays.
 */
export function incompleteVerdict(o: { id: string; journalOpen: boolean; newestChangeMs: number | null; nowMs: number; graceMs: number }): IncompleteVerdict {
  if (o.journalOpen) return { remove: false, reason: `its backup is unfinished in the journal: 'tandem recover' completes or removes it` };
  const known = [o.newestChangeMs, backupIdTime(o.id)].filter((t): t is number => t !== null);
  if (!known.length) return { remove: false, reason: 'its age is unknown (no file times, no generated id): remove it with tandem delete' };
  const age = o.nowMs - Math.max(...known);
  if (age < o.graceMs) return { remove: false, reason: `written ${Math.round(age / 60_000)} min ago, within a backup's lease and shipping time (${Math.round(o.graceMs / 60_000)} min): it may still be running` };
  return { remove: true, reason: `incomplete for ${Math.round(age / 3_600_000)} h, no unfinished run in the journal` };
}
