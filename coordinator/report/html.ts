/**
 * A report as one self-contained HTML page: the facts, the timeline (inline SVG), and every bar
 * in a table with its times, sizes and rate. No script, no external resource: the page's own
 * Content-Security-Policy forbids both, so even a string that escaped its escaping could not run.
 */
import { describeSizes, formatDuration } from './format';
import { xml, type Markup } from './markup';
import type { ReportModel } from './model';
import { COLOURS, renderSvg } from './svg';

/** The details table: one line per bar, row by row, in time order. */
function details(m: ReportModel): Markup {
  const lines = m.rows.flatMap((r) =>
    r.lanes.flat().sort((a, b) => a.start - b.start).map((b) => {
      const ms = b.end - b.start;
      return xml`<tr><td>${r.name}</td><td><span class="sw k-${b.kind}"></span>${b.label}</td><td class="n">+${formatDuration(b.start - m.start)}</td><td class="n">${formatDuration(ms)}</td><td>${describeSizes(b, ms)}</td><td>${b.note ?? ''}</td></tr>`;
    }),
  );
  return xml`<table class="details"><thead><tr><th>row</th><th>what</th><th>start</th><th>took</th><th>sizes, rate</th><th>note</th></tr></thead><tbody>${lines}</tbody></table>`;
}

/** The HTML page of a report. */
export function renderHtml(m: ReportModel): string {
  const kinds = [...new Set(m.rows.flatMap((r) => r.lanes.flat().map((b) => b.kind)))];
  const page = xml`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${m.title}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 12px; }
h2 { font-size: 15px; margin: 24px 0 8px; }
table { border-collapse: collapse; background: #fff; }
td, th { border: 1px solid #ddd; padding: 3px 8px; font-size: 13px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; white-space: nowrap; }
.facts td:first-child { color: #555; }
.timeline { overflow-x: auto; background: #fff; border: 1px solid #ddd; padding: 4px; }
.notes li { font-size: 13px; color: #7a2e00; }
.sw { display: inline-block; width: 10px; height: 10px; margin-right: 6px; vertical-align: baseline; }
${kinds.map((k) => xml`.k-${k} { background: ${COLOURS[k]}; }\n`)}
</style>
</head>
<body>
<h1>${m.title}</h1>
<table class="facts"><tbody>${m.facts.map(([k, v]) => xml`<tr><td>${k}</td><td>${v}</td></tr>`)}</tbody></table>
${m.notes.length ? xml`<ul class="notes">${m.notes.map((n) => xml`<li>${n}</li>`)}</ul>` : ''}
<h2>Timeline</h2>
<div class="timeline">${renderSvg(m)}</div>
<h2>Every span</h2>
${details(m)}
</body>
</html>
`;
  return page.text;
}

