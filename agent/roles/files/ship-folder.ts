/**
 * Ship of a folder store, streamed end to end: the folder is walked into workDir (cut.ts), then
 * the cut is read back entry by entry,
 * looked up in the parent's listing in the same pass (incremental.ts), the files the parent does
 * not hold are copied `concurrency` at a time, and the listing is written to the destination in
 * listing order as the copies finish. Memory stays bounded by the copies in flight and the
 * window of entries waiting for them (WINDOW), whatever the store holds.
 */
import { filesListingPath } from '../../../shared/destination/layout';
import type { FileRef } from '../../../shared/parts';
import { LISTING_FORMAT, type ListingRecord } from '../../../shared/parts/files-listing';
import { ListingWriter } from '../../../shared/parts/files-listing-write';
import { join } from 'node:path';
import { keepLocalCopy } from '../../backup/sealed-destination';
import type { RoleContext, ShipResult } from '../role';
import { DeviationCounter, filesPart, progressReporter, shipSummary } from './copy';
import { folderCutEntries, type FolderWalk } from './cut';
import { folderLookup, parentListing } from './incremental';
import { copyCutFile, type FileCopy } from './localfs';
import type { CutFile } from './walk';

/** Entries between the oldest unfinished copy and the newest entry taken from the cut, per copy slot. */
const WINDOW_PER_COPY = 16;

/** A tiny counting semaphore: at most `n` copies at once. */
function slots(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/** Copies the cut in workDir to `<id>/<node>/files/data/` and writes `<id>/<node>/files/listing.ndjson`; the part keeps counts and its reference. */
export async function shipFolder(ctx: RoleContext, walk: FolderWalk, where: string, concurrency: number): Promise<ShipResult> {
  // What is left of the walk is part of the copy span: the timeline's phases are the manifest's.
  const startedAt = Date.now();
  const walking = progressReporter(ctx, 0, 0, 'list');
  walk.onFile = () => walking.add(0);
  const cut = await walk.done;
  const parent = await parentListing(ctx, cut);
  const lookup = await folderLookup(ctx, parent);
  const listingPath = filesListingPath(ctx.backupId, ctx.node);
  // An encrypted set's listing opens only with the set key: the agent keeps its plaintext for the next set's plan.
  const localListing = ctx.options.setRecipient ? join(ctx.workDir, 'listing.ndjson') : undefined;
  const writer = new ListingWriter(ctx.destination, listingPath, { format: LISTING_FORMAT, cutAt: cut.cutAt, store: 'localfs', location: cut.location }, ctx.signal, localListing);
  const holders = new Set<string>();
  const stored = { files: 0, bytes: 0 };
  const referenced = { files: 0, bytes: 0 };
  const listed = { files: 0, dirs: 0, bytes: 0 };
  const deviations = new DeviationCounter();
  const progress = progressReporter(ctx, cut.files, cut.bytes);
  const copySlot = slots(Math.max(1, concurrency));
  const ac = new AbortController();
  const onAbort = () => ac.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  /** The listing lines of a file to copy, in the order they are written. */
  const copyLines = async (f: CutFile): Promise<ListingRecord[]> => {
    const r: FileCopy = await copySlot(() => copyCutFile(ctx, cut.location, f, ac.signal));
    progress.add('stored' in r ? r.stored.size : 0);
    if ('missing' in r) return [{ missing: r.missing }];
    if ('unstorable' in r) return [{ unstorable: r.unstorable }];
    // A file seen changing comes with its `changed` lines first, so the next set's merge meets them before the entry.
    return [...r.changed.map((c): ListingRecord => ({ changed: { ...c } })), { file: r.stored }];
  };
  const write = async (lines: ListingRecord[]) => {
    for (const line of lines) {
      if ('file' in line) {
        listed.files++;
        listed.bytes += line.file.size;
        if (line.file.set) holders.add(line.file.set);
        const counts = line.file.set ? referenced : stored;
        counts.files++;
        counts.bytes += line.file.size;
      } else if ('dir' in line) listed.dirs++;
      else if ('changed' in line) deviations.add('changed', line.changed.path);
      else if ('missing' in line) deviations.add('missing', line.missing);
      else if ('unstorable' in line) deviations.add('unstorable', line.unstorable.path);
      await writer.write(line);
    }
  };

  const queue: Promise<ListingRecord[]>[] = [];
  let ref: FileRef;
  try {
    for await (const e of folderCutEntries(ctx.workDir)) {
      ctx.signal.throwIfAborted();
      if (ac.signal.aborted) throw ac.signal.reason;
      let p: Promise<ListingRecord[]>;
      if ('dir' in e) p = Promise.resolve([{ dir: e.dir }]);
      else if ('skipped' in e) p = Promise.resolve([{ unstorable: e.skipped }]);
      else {
        // Looked up here, in cut order (the parent's listing is read forward once); only copies run in parallel.
        const kept = await lookup.keep(e.file);
        if (kept) progress.add(kept.size);
        p = kept ? Promise.resolve([{ file: kept }]) : copyLines(e.file);
      }
      p.catch((err) => ac.abort(err));
      queue.push(p);
      while (queue.length >= WINDOW_PER_COPY * concurrency) await write(await queue.shift()!);
    }
    while (queue.length) await write(await queue.shift()!);
    const summary = shipSummary(stored, deviations, referenced);
    ref = await writer.close({ files: listed.files, dirs: listed.dirs, bytes: listed.bytes, summary });
    if (localListing) await keepLocalCopy(ctx.destination, listingPath, localListing);
    ctx.span({ phase: 'copy', startedAt, endedAt: Date.now(), files: stored.files, bytesIn: stored.bytes, bytesOut: stored.bytes });
    if (parent) ctx.log.info({ parent: parent.parentId, stored: stored.files, referenced: referenced.files, referencedBytes: referenced.bytes }, 'files: attachments unchanged since the parent set are kept by the earlier sets that store them');
    if (deviations.changed || deviations.missing || deviations.unstorable) {
      ctx.log.warn({ changed: deviations.changed, missing: deviations.missing, unstorable: deviations.unstorable, summary }, 'files differ from the cut');
    }
    const part = filesPart('localfs', where, stored, deviations, summary, ref, referenced, ctx.options.setRecipient ? [...holders].sort() : undefined);
    // The attachments are listed in the listing, not one by one in the manifest; those kept by
    // earlier sets are named there (entries' `set`), not in the manifest's references.
    return { part, files: [ref], listed: stored };
  } catch (err) {
    ac.abort(err);
    await Promise.allSettled(queue);
    await writer.abort(err);
    throw err;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await lookup.close();
  }
}
