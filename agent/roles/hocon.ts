/**
 * A small HOCON reader for the subset TheHive's application.conf uses: nested objects, dotted
 * keys, `:`/`=`/`+=`, quoted and unquoted strings, arrays, `#` and `//` comments and
 * `${VAR}`/`${?VAR}` substitutions. `include` lines are ignored. It is not a full HOCON
 * implementation; anything it cannot read is a ValidationError naming the line.
 */
import { ValidationError } from '../../shared/errors';

/** A parsed value: scalars stay strings (callers convert), arrays and objects nest. */
export type HoconValue = string | HoconValue[] | HoconObject;
/** A parsed object. */
export interface HoconObject {
  [key: string]: HoconValue;
}

const isObject = (v: unknown): v is HoconObject => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Characters that end an unquoted key or value (HOCON's forbidden set, minus those we tolerate). */
const UNQUOTED_STOP = new Set(['$', '"', '{', '}', '[', ']', ':', '=', ',', '+', '#', '\n']);

/** Looks up a dotted path (`a.b.c`) in a parsed tree; undefined if any part is absent. */
export function hoconGet(tree: HoconObject, path: string): HoconValue | undefined {
  let cur: HoconValue | undefined = tree;
  for (const seg of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

/** Parses HOCON text; substitutions are resolved against the tree parsed so far, then `env`. */
export function parseHocon(text: string, env: NodeJS.ProcessEnv = process.env): HoconObject {
  return new Parser(text, env).parseRoot();
}

class Parser {
  private pos = 0;
  private readonly root: HoconObject = {};

  constructor(private readonly s: string, private readonly env: NodeJS.ProcessEnv) {}

  parseRoot(): HoconObject {
    this.skip(true);
    // A file may wrap everything in one pair of braces.
    const braced = this.s[this.pos] === '{';
    if (braced) this.pos++;
    this.parseFields(this.root, [], braced ? '}' : '');
    if (braced) this.expect('}');
    this.skip(true);
    if (this.pos < this.s.length) this.fail(`unexpected ${JSON.stringify(this.s[this.pos])}`);
    return this.root;
  }

  private fail(msg: string): never {
    const line = this.s.slice(0, this.pos).split('\n').length;
    throw new ValidationError(`HOCON line ${line}: ${msg}`, { line });
  }

  private expect(c: string): void {
    if (this.s[this.pos] !== c) this.fail(`expected ${JSON.stringify(c)}, found ${JSON.stringify(this.s[this.pos] ?? 'end of file')}`);
    this.pos++;
  }

  /** Skips spaces, comments and (when `newlines`) line breaks and commas. */
  private skip(newlines: boolean): void {
    for (;;) {
      const c = this.s[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\uFEFF') this.pos++;
      else if (newlines && (c === '\n' || c === ',')) this.pos++;
      else if (c === '#' || (c === '/' && this.s[this.pos + 1] === '/')) {
        while (this.pos < this.s.length && this.s[this.pos] !== '\n') this.pos++;
      } else return;
    }
  }

  /** Fields of an object up to `end` ('}' or '' for end of file), written into `target`. */
  private parseFields(target: HoconObject, prefix: string[], end: string): void {
    for (;;) {
      this.skip(true);
      const c = this.s[this.pos];
      if (c === undefined) {
        if (end) this.fail(`missing ${JSON.stringify(end)}`);
        return;
      }
      if (c === end) return;
      if (/^include\s/.test(this.s.slice(this.pos, this.pos + 8))) {
        // TheHive's packaged configs include secrets files; we only read this one file.
        while (this.pos < this.s.length && this.s[this.pos] !== '\n') this.pos++;
        continue;
      }
      const path = this.parseKey();
      this.skip(false);
      let op = this.s[this.pos];
      if (op === '+' && this.s[this.pos + 1] === '=') {
        this.pos += 2;
        op = '+=';
      } else if (op === ':' || op === '=') this.pos++;
      else if (op !== '{') this.fail(`expected ":", "=" or "{" after key ${path.join('.')}`);
      this.skip(false);
      const value = this.parseValue([...prefix, ...path]);
      if (value === undefined) continue; // ${?VAR} that is not set: the field keeps its previous value
      const existing = this.lookup(target, path);
      if (op === '+=') this.assign(target, path, [...(Array.isArray(existing) ? existing : []), value]);
      else this.assign(target, path, isObject(value) && isObject(existing) ? merge(existing, value) : value);
    }
  }

  private lookup(target: HoconObject, path: string[]): HoconValue | undefined {
    let cur: HoconValue | undefined = target;
    for (const seg of path) cur = isObject(cur) ? cur[seg] : undefined;
    return cur;
  }

  private assign(target: HoconObject, path: string[], value: HoconValue): void {
    let cur = target;
    for (const seg of path.slice(0, -1)) {
      if (!isObject(cur[seg])) cur[seg] = {};
      cur = cur[seg] as HoconObject;
    }
    cur[path[path.length - 1]] = value;
  }

  /** A key path: unquoted segments split on '.', quoted segments kept whole. */
  private parseKey(): string[] {
    const segs: string[] = [];
    let cur = '';
    let quotedAny = false;
    for (;;) {
      const c = this.s[this.pos];
      if (c === '"') {
        cur += this.parseQuoted();
        quotedAny = true;
      } else if (c === '.') {
        segs.push(cur);
        cur = '';
        this.pos++;
      } else if (c === undefined || c === ' ' || c === '\t' || c === '\r' || UNQUOTED_STOP.has(c)) break;
      else {
        cur += c;
        this.pos++;
      }
    }
    segs.push(cur);
    if (segs.some((s) => s === '') && !quotedAny) this.fail('empty key');
    return segs;
  }

  /** A JSON-style double-quoted string (or a """triple-quoted""" raw one). */
  private parseQuoted(): string {
    if (this.s.startsWith('"""', this.pos)) {
      const close = this.s.indexOf('"""', this.pos + 3);
      if (close < 0) this.fail('unterminated """ string');
      const v = this.s.slice(this.pos + 3, close);
      this.pos = close + 3;
      return v;
    }
    const m = /^"(?:[^"\\\n]|\\.)*"/.exec(this.s.slice(this.pos));
    if (!m) this.fail('unterminated string');
    this.pos += m[0].length;
    try {
      return JSON.parse(m[0]) as string;
    } catch {
      return this.fail(`invalid escape in string ${m[0]}`);
    }
  }

  /** A value: object, array, or a concatenation of strings and substitutions up to the end of the field. */
  private parseValue(path: string[]): HoconValue | undefined {
    const c = this.s[this.pos];
    if (c === '{') {
      this.pos++;
      const obj: HoconObject = {};
      this.parseFields(obj, path, '}');
      this.expect('}');
      return obj;
    }
    if (c === '[') return this.parseArray(path);
    const parts: (string | HoconValue | undefined)[] = [];
    let raw = '';
    let quoted = false;
    for (;;) {
      const ch = this.s[this.pos];
      if (ch === undefined || ch === '\n' || ch === ',' || ch === '}' || ch === ']' || ch === '#' || (ch === '/' && this.s[this.pos + 1] === '/')) break;
      if (ch === '"') {
        parts.push(raw, this.parseQuoted());
        raw = '';
        quoted = true;
      } else if (ch === '$' && this.s[this.pos + 1] === '{') {
        parts.push(raw, this.parseSubstitution());
        raw = '';
      } else {
        raw += ch;
        this.pos++;
      }
    }
    parts.push(raw.replace(/\s+$/, ''));
    const meaningful = parts.filter((p) => p !== '');
    if (meaningful.length === 1 && typeof meaningful[0] !== 'string') return meaningful[0]; // ${x} standing alone keeps its type
    if (meaningful.length === 0 && quoted) return '';
    if (meaningful.length === 0 && parts.some((p) => p === undefined)) return undefined;
    if (meaningful.length === 0) this.fail(`missing value for ${path.join('.')}`);
    return meaningful.map((p) => (p === undefined ? '' : typeof p === 'string' ? p : JSON.stringify(p))).join('');
  }

  private parseArray(path: string[]): HoconValue[] {
    this.expect('[');
    const out: HoconValue[] = [];
    for (;;) {
      this.skip(true);
      if (this.s[this.pos] === ']') {
        this.pos++;
        return out;
      }
      if (this.pos >= this.s.length) this.fail('unterminated array');
      const v = this.parseValue(path);
      if (v !== undefined) out.push(v);
    }
  }

  /** `${a.b}` or `${?ENV}`: an earlier path of this file, else an environment variable. */
  private parseSubstitution(): HoconValue | undefined {
    const close = this.s.indexOf('}', this.pos);
    if (close < 0) this.fail('unterminated ${');
    const inner = this.s.slice(this.pos + 2, close).trim();
    this.pos = close + 1;
    const optional = inner.startsWith('?');
    const name = optional ? inner.slice(1).trim() : inner;
    const v = hoconGet(this.root, name) ?? this.env[name];
    if (v === undefined && !optional) this.fail(`substitution \${${name}} is not defined`);
    return v;
  }
}

/** Deep merge of two objects (HOCON's rule for a key given twice with object values). */
function merge(a: HoconObject, b: HoconObject): HoconObject {
  const out: HoconObject = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k] as HoconObject, v) : v;
  return out;
}
