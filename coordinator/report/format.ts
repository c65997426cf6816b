/** How a report writes times, sizes and rates. */
import { formatBytes } from '../../shared/format';

/** A duration for a person: `840 ms`, `12.4 s`, `3 min 05 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Megabytes (10^6 bytes) per second over `ms`, one decimal; null when either is 0. */
export function rateMBs(bytes: number | undefined, ms: number): number | null {
  if (!bytes || ms <= 0) return null;
  return Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;
}

/** A span's sizes and rate in one line: `169.0 MiB → 168.2 MiB, 23.9 MB/s, 12 files`. */
export function describeSizes(b: { bytesIn?: number; bytesOut?: number; files?: number }, ms: number): string {
  const parts: string[] = [];
  if (b.bytesIn !== undefined && b.bytesOut !== undefined && b.bytesIn !== b.bytesOut) parts.push(`${formatBytes(b.bytesIn)} → ${formatBytes(b.bytesOut)}`);
  else if (b.bytesIn !== undefined || b.bytesOut !== undefined) parts.push(formatBytes((b.bytesOut ?? b.bytesIn)!));
  // The rate of the work done: what was read, for an archive (what the disk and compressor took).
  const rate = rateMBs(b.bytesIn ?? b.bytesOut, ms);
  // A few bytes over a second (a record file) is no throughput worth a figure of 0.0 MB/s.
  if (rate !== null && rate >= 0.1) parts.push(`${rate.toFixed(1)} MB/s`);
  if (b.files !== undefined) parts.push(`${b.files} file${b.files === 1 ? '' : 's'}`);
  return parts.join(', ');
}

/** An instant as ISO 8601 UTC, to the millisecond. */
export function formatInstant(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : 'n/a';
}
