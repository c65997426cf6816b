/**
 * Names and index files of Cassandra's cdc_raw folder. With cdc_enabled, Cassandra hard-links
 * every commitlog segment it creates into cdc_raw (`CommitLog-<version>-<id>.log`) and, once a
 * segment holds a mutation of a table WITH cdc = true, keeps `<segment>_cdc.idx` beside it:
 * line 1 the offset up to which the segment is synced to disk, line 2 `COMPLETED` once Cassandra
 * is done with it. Everything here is pure: parsing, no I/O.
 */

/** A segment's file name: `CommitLog-<descriptor version>-<id>.log`; the id orders segments. */
export const SEGMENT_NAME = /^CommitLog-(\d{1,3})-(\d{1,19})\.log$/;
/** A segment's CDC index file name: the segment's name without `.log`, then `_cdc.idx`. */
export const CDC_INDEX_NAME = /^(CommitLog-\d{1,3}-\d{1,19})_cdc\.idx$/;

/** A segment as its name tells it. */
export interface SegmentName {
  /** The file name, e.g. CommitLog-7-1796664089945.log. */
  name: string;
  /** The commitlog descriptor version (7 for Cassandra 4.0 to 5.0). */
  version: number;
  /** The segment id: a counter started from the node's clock in ms at start-up, one more per segment. */
  id: bigint;
}

/** The segment a file name names, or null when it is not a segment's name. */
export function parseSegmentName(name: string): SegmentName | null {
  const m = SEGMENT_NAME.exec(name);
  return m ? { name, version: Number(m[1]), id: BigInt(m[2]) } : null;
}

/** The segment name an index file belongs to, or null when it is not a CDC index's name. */
export function segmentOfIndex(name: string): string | null {
  const m = CDC_INDEX_NAME.exec(name);
  return m ? `${m[1]}.log` : null;
}

/** The CDC index name of a segment. */
export const indexNameOf = (segment: string): string => `${segment.slice(0, -'.log'.length)}_cdc.idx`;

/** What a `_cdc.idx` says. */
export interface CdcIndex {
  /** Bytes of the segment synced to disk: [0, durable) is safe to copy. */
  durable: number;
  /** Cassandra wrote COMPLETED: the segment will not grow any more. */
  completed: boolean;
}

/** The largest offset a segment can have: commitlog_segment_size is at most 2 GiB - 1. */
const MAX_OFFSET = 2 ** 31 - 1;

/**
 * Parses a `_cdc.idx`. Returns null for an empty or half-written file (Cassandra rewrites it in
 * place at every sync: a read can fall between the truncation and the write; the next poll reads
 * it whole); throws for content no Cassandra writes, which the caller reports.
 */
export function parseCdcIndex(text: string): CdcIndex | null {
  if (text.trim() === '') return null;
  const lines = text.split(/\r?\n/);
  const first = lines[0].trim();
  if (!/^\d{1,10}$/.test(first)) {
    // A first line cut short by a concurrent rewrite is digits without its newline; anything else is not Cassandra's.
    throw new Error(`not a CDC index: its first line ${JSON.stringify(first.slice(0, 40))} is not a byte offset`);
  }
  const durable = Number(first);
  if (durable > MAX_OFFSET) throw new Error(`not a CDC index: offset ${durable} is past the largest segment size`);
  const rest = lines.slice(1).map((l) => l.trim()).filter((l) => l !== '');
  if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'COMPLETED')) throw new Error(`not a CDC index: after the offset it has ${JSON.stringify(rest.join(' ').slice(0, 40))}, not COMPLETED`);
  return { durable, completed: rest.length === 1 };
}
