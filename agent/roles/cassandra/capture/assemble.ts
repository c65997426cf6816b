/**
 * A segment's captured prefix put back together from the destination: its index read, every
 * piece fetched and checked against the index (offsets that follow one another from 0, sizes,
 * sha256). What the destination returns is input from the network: anything that does not add
 * up is refused with what it is, never patched over. A restore writes the bytes under the
 * segment's name into a folder of restore_directories.
 */
import { z } from 'zod';
import { captureIndexPath, capturePiecePath } from '../../../../shared/destination/layout';
import { readAll, type Destination } from '../../../../shared/destination';
import { ValidationError } from '../../../../shared/errors';
import { sha256Hex } from './store';

/** An index of a few thousand pieces is well under this. */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;

const lineSchema = z.strictObject({
  segment: z.string(),
  start: z.number().int().min(0),
  end: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  storedAt: z.string(),
});

/** The durable prefix of `segment` as captured for node `node` of `cluster`: bytes [0, end of its last piece). */
export async function assembleSegment(dest: Destination, cluster: string, node: string, segment: string): Promise<Buffer> {
  const indexPath = captureIndexPath(cluster, node, segment);
  const text = (await dest.readSmall(indexPath, MAX_INDEX_BYTES)).toString('utf8');
  const chunks: Buffer[] = [];
  let at = 0;
  const lines = text.split('\n').filter((l) => l !== '');
  for (const [i, line] of lines.entries()) {
    const where = `${indexPath} line ${i + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new ValidationError(`${where} is not JSON: the capture's index is damaged`);
    }
    const r = lineSchema.safeParse(parsed);
    if (!r.success) throw new ValidationError(`${where}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
    const p = r.data;
    if (p.segment !== segment) throw new ValidationError(`${where} names segment ${JSON.stringify(p.segment)}, not ${segment}`);
    if (p.start !== at || p.end <= p.start) throw new ValidationError(`${where} holds [${p.start}, ${p.end}), but the pieces before it end at ${at}: the index has a hole or an overlap`);
    const body = await readAll(dest, capturePiecePath(cluster, node, segment, p.start, p.end));
    if (body.length !== p.end - p.start) throw new ValidationError(`piece [${p.start}, ${p.end}) of ${segment} is ${body.length} bytes, not ${p.end - p.start}`);
    if (sha256Hex(body) !== p.sha256) throw new ValidationError(`piece [${p.start}, ${p.end}) of ${segment} does not match its sha256 in the index: it was changed after it was stored`);
    chunks.push(body);
    at = p.end;
  }
  return Buffer.concat(chunks);
}
