/**
 * The capture's side of the destination: pieces of segments, each segment's index of its pieces
 * (sha256 and offsets, one JSON line each, in order), and the node's gaps. A piece is stored
 * under a name that says its offsets before the progress file records it; after a crash between
 * the two, the piece found at the destination is compared with the segment's bytes and adopted,
 * so nothing is stored twice and nothing is skipped.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { captureGapsPath, captureIndexPath, capturePiecePath, captureSegmentFolder, parsePieceName } from '../../../../shared/destination/layout';
import { readAll, type Destination } from '../../../../shared/destination';
import { openNoFollow } from './scan';
import type { Gap, Piece } from './progress';

/** Where one node's capture goes. */
export interface CaptureTarget {
  dest: Destination;
  cluster: string;
  node: string;
}

/** The sha256 of a buffer, hex. */
export const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Bytes [start, end) of a segment file, read without following a link; null when the file is
 * shorter (being replaced) or gone (the next look at cdc_raw says which).
 */
export async function readRange(file: string, start: number, end: number): Promise<Buffer | null> {
  let fh;
  try {
    fh = await openNoFollow(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) throw new Error(`${file} is not a regular file`);
    const buf = Buffer.alloc(end - start);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, start + n);
      if (bytesRead === 0) return null;
      n += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Stores bytes [start, end) of a segment; returns the piece to record. */
export async function storePiece(t: CaptureTarget, segment: string, start: number, bytes: Buffer, now: number): Promise<Piece> {
  const end = start + bytes.length;
  await t.dest.put(capturePiecePath(t.cluster, t.node, segment, start, end), Readable.from([bytes]), { size: bytes.length });
  return { start, end, sha256: sha256Hex(bytes), storedAt: now };
}

/**
 * Pieces of `segment` at the destination that start at or after `shipped`, in offset order:
 * what a crash left stored but not recorded. Each is returned with its content's sha256.
 */
export async function unrecordedPieces(t: CaptureTarget, segment: string, shipped: number): Promise<{ path: string; start: number; end: number; sha256: string }[]> {
  const folder = captureSegmentFolder(t.cluster, t.node, segment);
  const out = [];
  for (const e of await t.dest.list(folder)) {
    const r = parsePieceName(e.path.slice(folder.length + 1));
    if (!r || r.end <= shipped) continue;
    const body = await readAll(t.dest, e.path);
    out.push({ path: e.path, ...r, sha256: sha256Hex(body) });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Removes a piece that is not the segment's bytes (a piece of a replaced file, a range that overlaps). */
export const removePiece = (t: CaptureTarget, path: string): Promise<void> => t.dest.remove(path);

/** One line of a segment's index. */
const indexLine = (segment: string, p: Piece) => JSON.stringify({ segment, start: p.start, end: p.end, sha256: p.sha256, storedAt: new Date(p.storedAt).toISOString() });

/**
 * Writes a segment's index from its recorded pieces. It only ever grows: each write holds the
 * lines of the one before, then the new ones, and replaces it whole (writeAtomic).
 */
export async function writeSegmentIndex(t: CaptureTarget, segment: string, pieces: readonly Piece[]): Promise<void> {
  await t.dest.writeAtomic(captureIndexPath(t.cluster, t.node, segment), pieces.map((p) => `${indexLine(segment, p)}\n`).join(''));
}

/** Writes the node's gaps (every one recorded, oldest first), the same way. */
export async function writeGaps(t: CaptureTarget, gaps: readonly Gap[]): Promise<void> {
  await t.dest.writeAtomic(captureGapsPath(t.cluster, t.node), gaps.map((g) => `${JSON.stringify({ ...g, at: new Date(g.at).toISOString() })}\n`).join(''));
}
