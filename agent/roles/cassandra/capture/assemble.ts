/**
 * A segment's captured prefix put back together from the destination: its index read, each line's
 * signature checked against the capturing agent's certificate (shared/capture), every piece
 * fetched, bounded by the size its line names, and checked (offsets that follow one another from
 * 0, sizes, sha256; an encrypted piece decrypted with the capture's data key, which age
 * authenticates). What the destination returns is input from the network: anything that does
 * not add up is refused with what it is, never patched over. A restore writes the bytes under the
 * segment's name into a folder of restore_directories.
 */
import { z } from 'zod';
import { decrypt } from '../../../../shared/age';
import type { CaptureKeys } from '../../../../shared/capture/capture-key';
import { openLine, type LineTrust } from '../../../../shared/capture/signed-line';
import { captureIndexPath, capturePiecePath } from '../../../../shared/destination/layout';
import type { Destination } from '../../../../shared/destination';
import { ValidationError } from '../../../../shared/errors';
import { sha256Hex } from './store';

/** An index of a few thousand pieces is well under this. */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
/** A piece is at most 8 MiB of a segment (plan.ts); its age file a little more. */
const MAX_PIECE_BYTES = 9 * 1024 * 1024;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const common = { segment: z.string(), start: z.number().int().min(0), end: z.number().int().min(1), storedAt: z.string() };
const lineSchema = z.union([
  z.strictObject({ ...common, sha256 }),
  z.strictObject({ ...common, key: z.string().regex(/^[0-9a-f]{32}$/), stored: z.strictObject({ size: z.number().int().min(1).max(MAX_PIECE_BYTES), sha256 }) }),
]);

/** What reading the capture needs: the trust its signatures check against and, for an encrypted capture, its keys. */
export interface CaptureReader {
  trust: LineTrust;
  /** Absent: an encrypted piece is refused, saying an identity is needed. */
  keys?: CaptureKeys;
}

/** The durable prefix of `segment` as captured for node `node` of `cluster`: bytes [0, end of its last piece). */
export async function assembleSegment(dest: Destination, cluster: string, node: string, segment: string, reader: CaptureReader): Promise<Buffer> {
  const indexPath = captureIndexPath(cluster, node, segment);
  const text = (await dest.readSmall(indexPath, MAX_INDEX_BYTES)).toString('utf8');
  const chunks: Buffer[] = [];
  let at = 0;
  const lines = text.split('\n').filter((l) => l !== '');
  for (const [i, line] of lines.entries()) {
    const where = `${indexPath} line ${i + 1}`;
    const r = lineSchema.safeParse(await openLine(reader.trust, 'piece', cluster, node, line, where));
    if (!r.success) throw new ValidationError(`${where}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
    const p = r.data;
    if (p.segment !== segment) throw new ValidationError(`${where} names segment ${JSON.stringify(p.segment)}, not ${segment}`);
    if (p.start !== at || p.end <= p.start) throw new ValidationError(`${where} holds [${p.start}, ${p.end}), but the pieces before it end at ${at}: the index has a hole or an overlap`);
    const what = `piece [${p.start}, ${p.end}) of ${segment}`;
    let body: Buffer;
    if ('key' in p) {
      if (!reader.keys) throw new ValidationError(`${what} is encrypted: give the identity of one of the fleet's recipients`);
      const stored = await dest.readSmall(capturePiecePath(cluster, node, segment, p.start, p.end, true), p.stored.size);
      if (stored.length !== p.stored.size || sha256Hex(stored) !== p.stored.sha256) throw new ValidationError(`${what} is not the age file its index line names (size or sha256): it was changed after it was stored`);
      body = decrypt([await reader.keys.identity(cluster, node, p.key)], stored);
    } else {
      body = await dest.readSmall(capturePiecePath(cluster, node, segment, p.start, p.end), p.end - p.start);
      if (sha256Hex(body) !== p.sha256) throw new ValidationError(`${what} does not match its sha256 in the index: it was changed after it was stored`);
    }
    if (body.length !== p.end - p.start) throw new ValidationError(`${what} is ${body.length} bytes, not ${p.end - p.start}`);
    chunks.push(body);
    at = p.end;
  }
  return Buffer.concat(chunks);
}
