/**
 * A TheHive file store of N small attachments on disk, for tests and benches: each file is named
 * by the sha256 of its content in TheHive's layout (`<aa>/<bb>/<sha256>`), sizes spread evenly
 * between `minBytes` and `maxBytes`. Contents are distinct (the index leads each one) and cheap to
 * make (slices of one random pool), so a million files take about a minute.
 *
 *   node dist/test/tools/attachments.js DIR COUNT [MIN_BYTES] [MAX_BYTES]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What was written. */
export interface GeneratedStore {
  files: number;
  bytes: number;
  /** Every `sampleEvery`-th attachment, path and content, to check a restore against. */
  samples: { rel: string; body: Buffer }[];
}

/** The TheHive path of an attachment with this content. */
export function attachmentPathOf(body: Buffer): string {
  const sha = createHash('sha256').update(body).digest('hex');
  return `${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;
}

/** Writes `count` attachments under `dir` (created); `first` offsets the indexes, so a later call adds new files. */
export function writeAttachments(dir: string, count: number, opts: { minBytes?: number; maxBytes?: number; first?: number; sampleEvery?: number } = {}): GeneratedStore {
  const min = opts.minBytes ?? 1024;
  const max = opts.maxBytes ?? 4096;
  const first = opts.first ?? 0;
  const pool = randomBytes(1 << 20);
  const made = new Set<string>();
  const out: GeneratedStore = { files: 0, bytes: 0, samples: [] };
  for (let i = first; i < first + count; i++) {
    const size = min + (Math.imul(i, 2654435761) >>> 0) % (max - min + 1);
    const body = Buffer.allocUnsafe(size);
    body.writeUInt32BE(i >>> 0, 0);
    const from = (Math.imul(i, 40503) >>> 0) % (pool.length - size);
    pool.copy(body, 4, from, from + size - 4);
    const rel = attachmentPathOf(body);
    const folder = rel.slice(0, 5);
    if (!made.has(folder)) {
      mkdirSync(join(dir, folder), { recursive: true });
      made.add(folder);
    }
    writeFileSync(join(dir, rel), body);
    out.files++;
    out.bytes += size;
    if ((i - first) % (opts.sampleEvery ?? 10_000) === 0) out.samples.push({ rel, body });
  }
  return out;
}

if (require.main === module) {
  const [dir, count, min, max] = process.argv.slice(2);
  if (!dir || !count) {
    console.error('usage: node dist/test/tools/attachments.js DIR COUNT [MIN_BYTES] [MAX_BYTES]');
    process.exit(2);
  }
  const t0 = Date.now();
  const r = writeAttachments(dir, Number(count), { minBytes: min ? Number(min) : undefined, maxBytes: max ? Number(max) : undefined });
  console.log(`${r.files} attachments, ${r.bytes} bytes under ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
