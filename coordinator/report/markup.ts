/**
 * Markup built so that no string can escape its place: every value put into an `xml` template is
 * escaped unless it is markup made by another `xml` template. What a report shows comes from a
 * destination (node names, host names, summaries), which any agent can write: hostile input.
 */

/** Markup that is already safe: made by `xml`, never from a plain string. */
export class Markup {
  /** @internal made only by xml() and join(). */
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * A string escaped for text and attribute values of HTML and SVG. Control characters (NUL, ESC…)
 * are dropped: XML cannot hold them, and an SVG that holds one does not parse.
 */
export function escapeText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** One value in a template: markup as it is, a list joined, a number as digits, anything else escaped text. */
function piece(v: unknown): string {
  if (v instanceof Markup) return v.text;
  if (Array.isArray(v)) return v.map(piece).join('');
  if (v === null || v === undefined || v === false) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0';
  return escapeText(String(v));
}

/** A template of HTML or SVG whose values are escaped (see piece()). */
export function xml(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0];
  values.forEach((v, i) => (out += piece(v) + strings[i + 1]));
  return new Markup(out);
}
