/**
 * Ship of a bucket store: copies what the parent set does not hold of the cut (everything for a
 * full set) and writes the listing of the whole cut in the streamed format. A bucket's cut is
 * held in memory (its listing comes page by page from ListObjectsV2 and is kept until ship).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { filesListingPath } from '../../../shared/destination/layout';
import type { ListedObject } from '../../../shared/parts/files';
import { compareStorePaths, LISTING_FORMAT } from '../../../shared/parts/files-listing';
import { ListingWriter } from '../../../shared/parts/files-listing-write';
import { join } from 'node:path';
import { keepLocalCopy } from '../../backup/sealed-destination';
import type { RoleContext, ShipResult } from '../role';
import { DeviationCounter, filesPart, shipSummary } from './copy';
import { parentListing, splitBucketCut } from './incremental';
import { copyBucket, type S3Cut } from './s3';

/** Copies the bucket cut to `<id>/<node>/files/s3/` and writes `<id>/<node>/files/listing.ndjson`. */
export async function shipBucket(ctx: RoleContext, client: S3Client, cut: S3Cut, where: string, concurrency: number): Promise<ShipResult> {
  const startedAt = Date.now();
  const parent = await parentListing(ctx, cut);
  const split = await splitBucketCut(cut, parent);
  const r = await copyBucket(ctx, client, split.copy, concurrency);
  const stored = { files: r.stored.length, bytes: r.stored.reduce((a, f) => a + f.size, 0) };
  const referenced = { files: split.kept.length, bytes: split.kept.reduce((a, f) => a + f.size, 0) };
  ctx.span({ phase: 'copy', startedAt, endedAt: Date.now(), files: stored.files, bytesIn: stored.bytes, bytesOut: stored.bytes });
  const deviations = new DeviationCounter();
  for (const c of r.changed) deviations.add('changed', c.path);
  for (const m of r.missing) deviations.add('missing', m);
  for (const u of r.unstorable) deviations.add('unstorable', u.path);
  const summary = shipSummary(stored, deviations, referenced);
  if (parent) ctx.log.info({ parent: parent.parentId, stored: stored.files, referenced: referenced.files, referencedBytes: referenced.bytes }, 'files: attachments unchanged since the parent set are kept by the earlier sets that store them');
  if (deviations.changed || deviations.missing || deviations.unstorable) ctx.log.warn({ changed: deviations.changed, missing: deviations.missing, unstorable: deviations.unstorable, summary }, 'files differ from the cut');

  const objects: ListedObject[] = [...r.stored.map((o): ListedObject => ({ key: o.key, size: o.size, etag: o.etag, sha256: o.sha256, ...(o.sealed ? { sealed: o.sealed } : {}) })), ...split.kept];
  objects.sort((a, b) => compareStorePaths(a.key, b.key));
  const listingPath = filesListingPath(ctx.backupId, ctx.node);
  // An encrypted set's listing opens only with the set key: the agent keeps its plaintext for the next set's plan.
  const localListing = ctx.options.setRecipient ? join(ctx.workDir, 'listing.ndjson') : undefined;
  const writer = new ListingWriter(ctx.destination, listingPath, { format: LISTING_FORMAT, cutAt: cut.cutAt, store: 's3', bucket: cut.bucket, ...(cut.endpoint !== undefined ? { endpoint: cut.endpoint } : {}) }, ctx.signal, localListing);
  try {
    for (const changed of r.changed) await writer.write({ changed });
    for (const missing of r.missing) await writer.write({ missing });
    for (const unstorable of r.unstorable) await writer.write({ unstorable });
    for (const object of objects) await writer.write({ object });
  } catch (err) {
    await writer.abort(err);
    throw err;
  }
  const ref = await writer.close({ files: objects.length, dirs: 0, bytes: objects.reduce((a, o) => a + o.size, 0), summary });
  if (localListing) await keepLocalCopy(ctx.destination, listingPath, localListing);
  const holders = ctx.options.setRecipient ? [...new Set(split.kept.flatMap((o) => (o.set ? [o.set] : [])))].sort() : undefined;
  const part = filesPart('s3', where, stored, deviations, summary, ref, referenced, holders);
  return { part, files: [ref], listed: stored };
}
