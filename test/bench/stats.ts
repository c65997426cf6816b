/**
 * What every benchmark reports, computed one way: the true median (the mean of the two middle
 * values for an even count, never the lower one) and the worst run; and the order the ways are
 * run in, rotated from round to round so that no way always runs first on a cold page cache or
 * always last on a warm one.
 */

/** The median of `xs` (the mean of the two middle values when their count is even). */
export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The worst of timings (the longest). */
export const slowest = (xs: readonly number[]): number => (xs.length ? Math.max(...xs) : NaN);

/** The worst of rates (the lowest). */
export const lowest = (xs: readonly number[]): number => (xs.length ? Math.min(...xs) : NaN);

/**
 * The ways of round `round`, rotated by one per round and reversed every other round
 * (a b c, c b a, b c a, a c b …): over a few rounds each way runs first, last and between.
 */
export function roundOrder<T>(ways: readonly T[], round: number): T[] {
  const n = ways.length;
  const rotated = ways.map((_, i) => ways[(i + Math.floor(round / 2)) % n]);
  return round % 2 ? rotated.reverse() : rotated;
}

/** `median / worst` of timings in seconds, for a table cell. */
export const secondsCell = (xs: readonly number[], digits = 1): string => `${median(xs).toFixed(digits)} / ${slowest(xs).toFixed(digits)} s`;
