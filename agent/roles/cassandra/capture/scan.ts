/**
 * One look at cdc_raw: every segment with its size, whether Cassandra still has it in its
 * commitlog folder (the hard link's count), and what its _cdc.idx says. Every name is looked at
 * with lstat and every file opened with O_NOFOLLOW: cdc_raw belongs to Cassandra's user, and a
 * link planted there is refused with its name, never read (the agent may run as another user).
 */
import { constants as C, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../../../shared/errors';
import { parseCdcIndex, parseSegmentName, segmentOfIndex, indexNameOf, type CdcIndex } from './segment';

/** A segment as cdc_raw shows it now. */
export interface ObservedSegment {
  /** Its file name. */
  name: string;
  /** Its id. */
  id: bigint;
  /** Its size in bytes (Cassandra preallocates: the whole commitlog_segment_size). */
  size: number;
  /** Cassandra's commitlog folder still holds it (link count above 1): it may still be written. */
  linked: boolean;
  /** Its _cdc.idx, or null when it has none (no CDC mutation in it) or it could not be read whole this time. */
  index: CdcIndex | null;
  /** Why its _cdc.idx was not understood, when it was not. */
  indexProblem?: string;
}

/** A name of cdc_raw that was not read, and why. */
export interface Refused {
  name: string;
  why: string;
}

/** What one look at cdc_raw found. */
export interface Scan {
  /** When the look began (ms). */
  at: number;
  /** Its segments, by id. */
  segments: ObservedSegment[];
  /** _cdc.idx files whose segment is not there. */
  strayIndexes: string[];
  /** Names refused: links, and what is not a regular file. */
  refused: Refused[];
  /** Bytes of the segment files in cdc_raw: what Cassandra weighs against cdc_total_space. */
  bytes: number;
}

/** The largest _cdc.idx read: an offset and COMPLETED are a few bytes. */
const MAX_INDEX_BYTES = 256;

/** Opens a file of cdc_raw for reading without following a link (ELOOP for one). */
export async function openNoFollow(file: string): Promise<fs.FileHandle> {
  return fs.open(file, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
}

async function readIndex(file: string): Promise<string> {
  const fh = await openNoFollow(file);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    const buf = Buffer.alloc(MAX_INDEX_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_INDEX_BYTES) throw new Error(`larger than ${MAX_INDEX_BYTES} bytes`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Looks at cdc_raw once; throws only when the folder itself cannot be listed. */
export async function scanCdcRaw(dir: string, now: number = Date.now()): Promise<Scan> {
  const names = await fs.readdir(dir);
  const refused: Refused[] = [];
  const segments: ObservedSegment[] = [];
  const indexes = new Set<string>();
  let bytes = 0;
  for (const name of names.sort()) {
    const seg = parseSegmentName(name);
    const indexOf = seg ? null : segmentOfIndex(name);
    if (!seg && !indexOf) continue; // not Cassandra's CDC files (an operator's note, a lost+found): left alone
    let st;
    try {
      st = await fs.lstat(join(dir, name));
    } catch {
      continue; // removed between readdir and lstat: the next look says what happened
    }
    if (st.isSymbolicLink()) {
      refused.push({ name, why: 'a symbolic link: cdc_raw holds Cassandra\'s hard links only; remove it' });
      continue;
    }
    if (!st.isFile()) {
      refused.push({ name, why: 'not a regular file: remove it' });
      continue;
    }
    if (indexOf) {
      indexes.add(name);
      continue;
    }
    bytes += st.size;
    segments.push({ name, id: seg!.id, size: st.size, linked: st.nlink > 1, index: null });
  }
  for (const s of segments) {
    const idx = indexNameOf(s.name);
    if (!indexes.delete(idx)) continue;
    try {
      s.index = parseCdcIndex(await readIndex(join(dir, idx)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // removed since the listing
      if (code === 'ELOOP') refused.push({ name: idx, why: 'a symbolic link: remove it' });
      else s.indexProblem = errorMessage(err);
    }
  }
  segments.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { at: now, segments, strayIndexes: [...indexes].sort(), refused, bytes };
}
