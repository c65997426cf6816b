/**
 * A small reader of Prometheus's text exposition format (what /metrics serves and what the
 * node_exporter textfile holds), for tests: samples with their labels, HELP and TYPE by metric.
 */

/** One sample. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The parsed text. */
export interface PromText {
  samples: PromSample[];
  help: Map<string, string>;
  type: Map<string, string>;
}

/** Parses the text; throws on a line that is neither a comment nor a sample. */
export function parsePromText(text: string): PromText {
  const out: PromText = { samples: [], help: new Map(), type: new Map() };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? out.help : out.type).set(meta[2], meta[3]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and these labels (a subset); undefined when absent. */
export function sampleValue(text: PromText, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = text.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value;
}
