/**
 * Draws a report model as one SVG: a time axis, one horizontal timeline per row (node or
 * coordinator) with its bars on lanes and its instants as markers, the cut's spread in a zoomed
 * inset, a legend. Self-contained (its style inside), so that `--svg` alone is a whole picture;
 * every string goes through xml() and is escaped.
 */
import { describeSizes, formatDuration } from './format';
import { xml, type Markup } from './markup';
import type { Bar, BarKind, ReportModel, Row } from './model';

const WIDTH = 1200;
const LEFT = 210;
const RIGHT = 24;
const PLOT = WIDTH - LEFT - RIGHT;
const LANE = 18;
const LANE_GAP = 4;
const ROW_PAD = 8;
const INSET = { width: 560, height: 118 };

/** Colours of the bars, by kind; the dark ones carry white text. */
export const COLOURS: Record<BarKind, string> = {
  preflight: '#9aa5b1', prepare: '#7b8cde', commit: '#e07a5f', shipping: '#81b29a', manifest: '#e9c46a', cleanup: '#b56576',
  cut: '#e76f51', snapshot: '#f4a261', archive: '#2a9d8f', count: '#a3b18a', copy: '#457b9d', ship: '#264653', finish: '#adb5bd',
  fetch: '#457b9d', schema: '#e9c46a', load: '#2a9d8f', verify: '#81b29a', failed: '#d62828',
};
const DARK = new Set<BarKind>(['archive', 'copy', 'ship', 'fetch', 'load', 'failed', 'cleanup']);

/** What each kind of bar means, for the legend. */
const MEANING: Record<BarKind, string> = {
  preflight: 'describe, id and parent checks', prepare: 'Prepare', commit: 'Commit', shipping: 'until every part is reported', manifest: 'parts checked, manifest built',
  cleanup: 'Abort everywhere, or a restore\'s cleanup', cut: "a role's cut", snapshot: 'snapshot', archive: "a table's archive", count: 'rows counted', copy: 'files copied', ship: "a role's ship step",
  finish: 'part.json written, cleanup', fetch: 'parts fetched and checked', schema: 'schema created', load: 'data loaded', verify: 'compared with the set',
  failed: 'failed',
};

/** A step of 1, 2 or 5 × 10^k near `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const n = raw / pow;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * pow;
}

/** An offset on an axis: `250 ms`, `1.5 s`, `90 s`. */
function tickLabel(ms: number, step: number): string {
  if (step < 1000) return `${Math.round(ms * 1000) / 1000} ms`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** The height a row takes. */
function rowHeight(r: Row): number {
  return Math.max(44, ROW_PAD * 2 + Math.max(1, r.lanes.length) * (LANE + LANE_GAP));
}

/** The SVG of a report. */
export function renderSvg(m: ReportModel): Markup {
  const span = m.end - m.start;
  const x = (t: number) => LEFT + ((t - m.start) / span) * PLOT;
  const axisY = 58;
  let y = axisY + 14;
  const rows: Markup[] = [];
  for (const r of m.rows) {
    rows.push(renderRow(r, y, x));
    y += rowHeight(r);
  }
  const rowsBottom = y;
  const step = niceStep(span / 10);
  const ticks: number[] = [];
  for (let t = 0; t <= span + 1e-9; t += step) ticks.push(t);
  const axis = xml`<g class="tl-axis">
<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + PLOT}" y2="${axisY}"/>
${ticks.map((t) => xml`<line class="tl-grid" x1="${x(m.start + t)}" y1="${axisY}" x2="${x(m.start + t)}" y2="${rowsBottom}"/><text x="${x(m.start + t)}" y="${axisY - 6}" text-anchor="middle">${tickLabel(t, step)}</text>`)}
</g>`;
  let inset: Markup = xml``;
  if (m.cut) {
    inset = renderCut(m, rowsBottom + 24, x, axisY, rowsBottom);
    y = rowsBottom + 24 + INSET.height + 16;
  } else y = rowsBottom + 12;
  const kinds = [...new Set(m.rows.flatMap((r) => r.lanes.flat().map((b) => b.kind)))];
  const legend = kinds.map((k, i) => {
    const lx = LEFT + (i % 4) * (PLOT / 4);
    const ly = y + 14 + Math.floor(i / 4) * 18;
    return xml`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLOURS[k]}"/><text class="tl-small" x="${lx + 18}" y="${ly}">${k}: ${MEANING[k]}</text>`;
  });
  const height = y + 14 + Math.ceil(kinds.length / 4) * 18 + 8;
  return xml`<svg xmlns="http://www.w3.org/2000/svg" class="tl" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${m.title}">
<style>
.tl { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; font-size: 12px; background: #fff; }
.tl text { fill: #222; }
.tl .tl-title { font-size: 16px; font-weight: 600; }
.tl .tl-small { font-size: 11px; fill: #444; }
.tl .tl-muted { font-size: 11px; fill: #777; }
.tl .tl-name { font-weight: 600; }
.tl .tl-axis line { stroke: #999; }
.tl .tl-axis .tl-grid { stroke: #eee; }
.tl .tl-axis text { font-size: 11px; fill: #555; }
.tl .tl-row { stroke: #ddd; }
.tl .tl-bar text { font-size: 11px; pointer-events: none; }
.tl .tl-bar text.tl-light { fill: #fff; }
.tl .tl-marker { stroke: #c1121f; stroke-width: 1.5; stroke-dasharray: 3 2; }
.tl .tl-marker-label { font-size: 10px; fill: #c1121f; }
.tl .tl-band { fill: #c1121f; opacity: 0.25; }
.tl .tl-zoom { stroke: #c1121f; stroke-dasharray: 2 3; fill: none; opacity: 0.6; }
.tl .tl-inset { fill: #fff8f6; stroke: #c1121f; }
.tl .tl-point { fill: #c1121f; }
</style>
<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#fff"/>
<text class="tl-title" x="8" y="22">${m.title}</text>
<text class="tl-muted" x="8" y="40">${formatDuration(span)} from the first to the last instant recorded, on the coordinator's clock; 0 is ${new Date(m.start).toISOString()}</text>
${axis}
${rows}
${inset}
${legend}
</svg>`;
}

/** One row: its name and caption on the left, its lanes of bars, its markers. */
function renderRow(r: Row, top: number, x: (t: number) => number): Markup {
  const h = rowHeight(r);
  const bars = r.lanes.map((lane, i) => lane.map((b) => renderBar(b, top + ROW_PAD + i * (LANE + LANE_GAP), x)));
  const markers = r.markers.map((mk) => xml`<g><title>${mk.label} at ${new Date(mk.at).toISOString()}</title><line class="tl-marker" x1="${x(mk.at)}" y1="${top + 2}" x2="${x(mk.at)}" y2="${top + h - 2}"/><text class="tl-marker-label" x="${x(mk.at) + 3}" y="${top + h - 4}">${mk.label}</text></g>`);
  const missing = r.missing && !r.lanes.length ? xml`<text class="tl-muted" x="${LEFT + 8}" y="${top + h / 2 + 4}">${r.missing}</text>` : xml``;
  return xml`<g class="tl-rowgroup">
<line class="tl-row" x1="0" y1="${top + h}" x2="${WIDTH}" y2="${top + h}"/>
<text class="tl-name" x="8" y="${top + 18}">${r.name}</text>
<text class="tl-muted" x="8" y="${top + 33}">${clip(r.caption, 34)}<title>${r.caption}</title></text>
${bars}${missing}${markers}
</g>`;
}

/** One bar, with its label when it fits and everything in its tooltip. */
function renderBar(b: Bar, top: number, x: (t: number) => number): Markup {
  const ms = b.end - b.start;
  const x0 = x(b.start);
  const w = Math.max(1.5, x(b.end) - x0);
  const sizes = describeSizes(b, ms);
  const full = `${b.label}: ${formatDuration(ms)}${sizes ? `, ${sizes}` : ''}${b.note ? ` (${b.note})` : ''}`;
  // About 6.2 px per character of an 11 px sans-serif.
  const long = `${b.label} ${formatDuration(ms)}${sizes ? ` · ${sizes}` : ''}`;
  const text = long.length * 6.2 + 8 <= w ? long : b.label.length * 6.2 + 8 <= w ? b.label : '';
  return xml`<g class="tl-bar"><title>${full}</title><rect x="${x0}" y="${top}" width="${w}" height="${LANE}" rx="2" fill="${COLOURS[b.kind]}"/>${text ? xml`<text class="${DARK.has(b.kind) ? 'tl-light' : ''}" x="${x0 + 4}" y="${top + 13}">${text}</text>` : ''}</g>`;
}

/**
 * The cut's spread to scale: a band on the timeline where the cuts are, and an inset that zooms
 * into a few ms around them with one point per node.
 */
function renderCut(m: ReportModel, top: number, x: (t: number) => number, axisY: number, rowsBottom: number): Markup {
  const cut = m.cut!;
  const ats = cut.points.map((p) => p.at);
  const lo = Math.min(...ats);
  const hi = Math.max(...ats);
  const pad = Math.max(1, (hi - lo) * 0.25);
  const d0 = lo - pad;
  const d1 = hi + pad;
  const left = LEFT + 12;
  const inner = INSET.width - 24;
  const ix = (t: number) => left + ((t - d0) / (d1 - d0)) * inner;
  const step = Math.max(1, niceStep((d1 - d0) / 8));
  // Ticks counted from the first node's cut, which is 0.
  const ticks: number[] = [];
  for (let t = lo + Math.ceil((d0 - lo) / step) * step; t <= d1; t += step) ticks.push(t);
  const axisAt = top + INSET.height - 28;
  // Where the cut is on the timeline: the markers of the rows (coordinator clock).
  const marks = m.rows.flatMap((r) => r.markers.filter((mk) => /cut/.test(mk.label)).map((mk) => mk.at));
  const b0 = marks.length ? x(Math.min(...marks)) : LEFT;
  const b1 = marks.length ? Math.max(b0 + 2, x(Math.max(...marks))) : LEFT + 2;
  return xml`<g class="tl-cut">
<rect class="tl-band" x="${b0 - 1}" y="${axisY}" width="${b1 - b0 + 2}" height="${rowsBottom - axisY}"><title>the cut: ${cut.spreadMs} ms between the nodes</title></rect>
<path class="tl-zoom" d="M ${b0 - 1} ${rowsBottom} L ${LEFT} ${top} M ${b1 + 1} ${rowsBottom} L ${LEFT + INSET.width} ${top}"/>
<rect class="tl-inset" x="${LEFT}" y="${top}" width="${INSET.width}" height="${INSET.height}" rx="4"/>
<text class="tl-name" x="${LEFT + 10}" y="${top + 16}">the cut, zoomed: ${cut.spreadMs} ms between the nodes</text>
<text class="tl-muted" x="${LEFT + 10}" y="${top + 30}">${clip(cut.label, 90)}</text>
<line stroke="#999" x1="${left}" y1="${axisAt}" x2="${left + inner}" y2="${axisAt}"/>
${ticks.map((t) => xml`<line stroke="#bbb" x1="${ix(t)}" y1="${axisAt - 3}" x2="${ix(t)}" y2="${axisAt + 3}"/><text class="tl-muted" text-anchor="middle" x="${ix(t)}" y="${axisAt + 15}">${`${t < lo ? '−' : '+'}${Math.round(Math.abs(t - lo) * 10) / 10} ms`}</text>`)}
${cut.points.map((p, i) => xml`<g><title>${p.node}: ${new Date(p.at).toISOString()}</title><circle class="tl-point" cx="${ix(p.at)}" cy="${axisAt}" r="4"/><text class="tl-small" text-anchor="middle" x="${ix(p.at)}" y="${axisAt - 10 - (i % 3) * 12}">${clip(p.node, 24)}</text></g>`)}
</g>`;
}

/** A string cut to `max` characters for a narrow place (the full one is in a tooltip or a table). */
function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
