/**
 * The capture's side of the destination: pieces of segments, each segment's index of its pieces
 * (sha256 and offsets, one JSON line each, in order), and the node's gaps. A piece is stored
 * under a name that says its offsets before the progress file records it; after a crash between
 * the two, the piece found at the destination is compared with the segment's bytes and adopted,
 * so nothing is stored twice and nothing is skipped.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { encrypt } from '../../../../shared/age';
import type { CaptureTarget, LineSigning } from '../../../../shared/capture/seal';
import { captureGapsPath, captureIndexPath, capturePiecePath, captureSegmentFolder, parsePieceName } from '../../../../shared/destination/layout';
import { openNoFollow } from './scan';
import type { Gap, Piece } from './progress';
import type { CaptureSeal } from '../../../../shared/capture/seal';

export { LineSigning, type CaptureTarget } from '../../../../shared/capture/seal';

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

/** Stores bytes [start, end) of a segment (encrypted to the seal's data key, when it has one); returns the piece to record. */
export async function storePiece(t: CaptureTarget, seal: CaptureSeal, segment: string, start: number, bytes: Buffer, now: number): Promise<Piece> {
  const end = start + bytes.length;
  const piece: Piece = { start, end, sha256: sha256Hex(bytes), storedAt: now };
  if (!seal.key) {
    await t.dest.put(capturePiecePath(t.cluster, t.node, segment, start, end), Readable.from([bytes]), { size: bytes.length });
    return piece;
  }
  const body = encrypt([seal.key.recipient], bytes);
  await t.dest.put(capturePiecePath(t.cluster, t.node, segment, start, end, true), Readable.from([body]), { size: body.length });
  return { ...piece, sealed: { key: seal.key.id, size: body.length, sha256: sha256Hex(body) } };
}

/**
 * Pieces of `segment` at the destination that start at or after `shipped`, in offset order:
 * what a crash left stored but not recorded. A clear piece comes with its content's sha256 (null
 * when it is larger than its name says); an encrypted one with none, since this agent cannot read
 * it back: it is stored again.
 */
export async function unrecordedPieces(t: CaptureTarget, segment: string, shipped: number): Promise<{ path: string; start: number; end: number; sealed: boolean; sha256: string | null }[]> {
  const folder = captureSegmentFolder(t.cluster, t.node, segment);
  const out = [];
  for (const e of await t.dest.list(folder)) {
    const r = parsePieceName(e.path.slice(folder.length + 1));
    if (!r || r.end <= shipped) continue;
    const body = r.sealed ? null : await t.dest.readSmall(e.path, r.end - r.start).catch(() => null);
    out.push({ path: e.path, ...r, sha256: body ? sha256Hex(body) : null });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Removes a piece that is not the segment's bytes (a piece of a replaced file, a range that overlaps). */
export const removePiece = (t: CaptureTarget, path: string): Promise<void> => t.dest.remove(path);

/**
 * The fields of a piece's index line. An encrypted piece's line carries what is stored (the key's
 * id, the age file's size and sha256), not the plaintext's digest: the age file authenticates its
 * own plaintext, and the digest of clear commitlog bytes would be a clue to them.
 */
function indexFields(segment: string, p: Piece): Record<string, unknown> {
  const at = new Date(p.storedAt).toISOString();
  return p.sealed
    ? { segment, start: p.start, end: p.end, key: p.sealed.key, stored: { size: p.sealed.size, sha256: p.sealed.sha256 }, storedAt: at }
    : { segment, start: p.start, end: p.end, sha256: p.sha256, storedAt: at };
}

/**
 * Writes a segment's index from its recorded pieces, each line signed. It only ever grows: each
 * write holds the lines of the one before, then the new ones, and replaces it whole (writeAtomic).
 */
export async function writeSegmentIndex(t: CaptureTarget, signing: LineSigning, segment: string, pieces: readonly Piece[]): Promise<void> {
  await t.dest.writeAtomic(captureIndexPath(t.cluster, t.node, segment), pieces.map((p) => `${signing.line('piece', indexFields(segment, p))}\n`).join(''));
}

/** Writes the node's gaps (every one recorded, oldest first), signed, the same way. */
export async function writeGaps(t: CaptureTarget, signing: LineSigning, gaps: readonly Gap[]): Promise<void> {
  await t.dest.writeAtomic(captureGapsPath(t.cluster, t.node), gaps.map((g) => `${signing.line('gap', { ...g, at: new Date(g.at).toISOString() })}\n`).join(''));
}
