/** How tandem writes quantities for a person: plan lines, progress, summaries, logs. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `258.0 MiB`. */
export function formatBytes(n: number): string {
  let i = 0;
  while (Math.abs(n) >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${UNITS[i]}`;
}
