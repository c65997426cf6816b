/**
 * The documentation cannot drift from the code: every key of the two configuration schemas is
 * described in docs/configure.md and that page names no key the schemas lack; every relative
 * link of README.md and docs/*.md resolves (file and #anchor, by GitHub's heading slugs); every
 * `tandem VERB --flag` and `tandem-agent --flag` shown exists in that command's own --help (the
 * built CLI, run through execFile with an argv array); every `npm run X` shown is a script.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentConfigSchema } from '../../agent/config';
import { fleetConfigSchema } from '../../coordinator/config';

const ROOT = resolve(__dirname, '../../..');
const DOCS = join(ROOT, 'docs');
const run = promisify(execFile);

/** README.md and every page of docs/, as paths relative to the repository. */
function pages(): string[] {
  const docs = existsSync(DOCS) ? readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`) : [];
  return ['README.md', ...docs];
}
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

// ---- configuration keys -------------------------------------------------------------------

/** The part of a zod 4 schema's definition the walk reads. */
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  in?: Schema;
  element?: Schema;
  options?: Schema[];
  valueType?: Schema;
  left?: Schema;
  right?: Schema;
  getter?: () => Schema;
}
interface Schema {
  _zod: { def: Def };
}

/** Kinds that wrap one schema without adding a key. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);
/** Kinds that hold no key of their own: the path that reaches them is a key. */
const LEAVES = new Set(['string', 'number', 'int', 'boolean', 'bigint', 'enum', 'literal', 'date', 'any', 'unknown', 'null', 'undefined', 'file', 'template_literal', 'transform', 'custom', 'nan', 'symbol']);

/**
 * Every key path a file may write: objects go one level down (`a.b`), arrays of objects add `[]`
 * (`agents[].node`), records `*`, unions and discriminated unions merge their variants' keys.
 */
function keyPaths(schema: Schema, prefix = '', out = new Set<string>()): Set<string> {
  const d = schema._zod.def;
  const at = (k: string) => (prefix ? `${prefix}.${k}` : k);
  if (d.type === 'object') for (const [k, v] of Object.entries(d.shape!)) keyPaths(v, at(k), out);
  else if (WRAPPERS.has(d.type)) keyPaths(d.innerType!, prefix, out);
  else if (d.type === 'pipe') keyPaths(d.in!, prefix, out);
  else if (d.type === 'lazy') keyPaths(d.getter!(), prefix, out);
  else if (d.type === 'union') for (const o of d.options!) keyPaths(o, prefix, out);
  else if (d.type === 'intersection') (keyPaths(d.left!, prefix, out), keyPaths(d.right!, prefix, out));
  else if (d.type === 'array' || d.type === 'record') {
    const inner = d.type === 'array' ? d.element! : d.valueType!;
    const deeper = new Set<string>();
    keyPaths(inner, '', deeper);
    // An array or record of plain values is one key; of objects, its elements' keys below it.
    if (deeper.size === 1 && deeper.has('')) out.add(prefix);
    else for (const k of deeper) out.add(k ? `${prefix}${d.type === 'array' ? '[]' : '.*'}.${k}` : prefix);
  } else if (LEAVES.has(d.type)) out.add(prefix);
  else throw new Error(`keyPaths: a schema of kind ${d.type} at ${prefix || '(top level)'}: teach the walk in test/unit/docs.test.ts what keys it holds`);
  return out;
}

/** The first cell's `key` of every row of the table that follows `<!-- keys: NAME -->`. */
function documentedKeys(markdown: string, name: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `<!-- keys: ${name} -->`);
  assert.ok(start >= 0, `docs/configure.md has no "<!-- keys: ${name} -->" marker before its table of ${name} keys`);
  const keys: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('|')) {
      if (keys.length || line.trim()) break;
      continue;
    }
    const cell = line.split('|')[1].trim();
    if (cell === 'key' || /^-+$/.test(cell)) continue;
    const m = /^`([^`]+)`$/.exec(cell);
    assert.ok(m, `docs/configure.md, ${name} keys: the first cell ${JSON.stringify(cell)} is not one \`key\``);
    keys.push(m![1]);
  }
  return keys;
}

function checkKeys(name: string, schema: Schema): void {
  const want = keyPaths(schema);
  const doc = documentedKeys(read('docs/configure.md'), name);
  const dupes = doc.filter((k, i) => doc.indexOf(k) !== i);
  assert.equal(dupes, [], `docs/configure.md describes these ${name} keys twice: ${dupes.join(', ')}`);
  const undocumented = [...want].filter((k) => !doc.includes(k));
  assert.equal(undocumented, [], `keys of the ${name} schema missing from docs/configure.md's ${name} table: ${undocumented.join(', ')}`);
  const unknown = doc.filter((k) => !want.has(k));
  assert.equal(unknown, [], `docs/configure.md's ${name} table names keys the schema does not have: ${unknown.join(', ')}`);
}

test('keyPaths walks objects, wrappers, arrays, unions and records', async () => {
  const { z } = await import('zod');
  const s = z.strictObject({
    a: z.string().default('x'),
    b: z.strictObject({ c: z.int().default(1), d: z.array(z.string()).default([]) }).prefault({}),
    e: z.array(z.strictObject({ f: z.boolean() })),
    g: z.discriminatedUnion('t', [z.strictObject({ t: z.literal('x'), h: z.string() }), z.strictObject({ t: z.literal('y'), i: z.string() })]).optional(),
    j: z.record(z.string(), z.strictObject({ k: z.number() })),
  }).refine(() => true);
  assert.equal([...keyPaths(s as unknown as Schema)].sort(), ['a', 'b.c', 'b.d', 'e[].f', 'g.h', 'g.i', 'g.t', 'j.*.k']);
});

test('docs/configure.md describes every key of the agent file, and no other', () => {
  checkKeys('agent', agentConfigSchema() as unknown as Schema);
});

test('docs/configure.md describes every key of the fleet file, and no other', () => {
  checkKeys('fleet', fleetConfigSchema as unknown as Schema);
});

// ---- markdown: code, links, headings --------------------------------------------------------

/** A page split into prose lines (code removed) and the code it shows: fenced lines, inline spans. */
function parse(markdown: string): { prose: string[]; code: string[]; inline: string[] } {
  const prose: string[] = [];
  const code: string[] = [];
  const inline: string[] = [];
  let fence: string | null = null;
  let pending = '';
  for (const line of markdown.split('\n')) {
    const f = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (f && f[1][0] === fence[0] && f[1].length >= fence.length && line.trim() === f[1]) fence = null;
      // A shell line ending in \ goes on: one command.
      else if (line.endsWith('\\')) pending += line.slice(0, -1) + ' ';
      else (code.push(pending + line), (pending = ''));
      continue;
    }
    if (f) {
      fence = f[1];
      continue;
    }
    // Inline code spans (single or double backticks), then the prose around them.
    inline.push(...[...line.matchAll(/(`+)(.+?)\1/g)].map((m) => m[2]));
    prose.push(line.replace(/(`+)(.+?)\1/g, ''));
  }
  return { prose, code, inline };
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const f = /^\s*(`{3,}|~{3,})/.exec(line);
    if (f) {
      fence = fence === null ? f[1] : f[1][0] === fence[0] && line.trim() === f[1] ? null : fence;
      continue;
    }
    if (fence !== null) continue;
    const h = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    // Link text stays, HTML tags go, code spans keep their text (`<keyspace>` included).
    const text = h[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .split(/(`+[^`]*`+)/)
      .map((part, i) => (i % 2 ? part : part.replace(/<[^>]+>/g, '')))
      .join('');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

test('GitHub heading slugs', () => {
  const a = anchors('# The agent file (`/etc/tandem/agent.yaml`)\n## files/listing.ndjson\n## Incremental sets: what a chain costs\n## Steps\n## Steps\n```\n# not a heading\n```\n## `a/<ks>/b` <br>and [c](d.md)\n');
  assert.equal([...a], ['the-agent-file-etctandemagentyaml', 'fileslistingndjson', 'incremental-sets-what-a-chain-costs', 'steps', 'steps-1', 'aksb-and-c']);
});

test('every relative link of README.md and docs/ resolves, #anchors included', () => {
  const broken: string[] = [];
  for (const page of pages()) {
    const text = read(page);
    for (const line of parse(text).prose) {
      for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not this test's business
        const [path, anchor] = target.split('#', 2) as [string, string | undefined];
        const file = path ? resolve(ROOT, dirname(page), decodeURIComponent(path)) : join(ROOT, page);
        if (!file.startsWith(ROOT) || !existsSync(file)) {
          broken.push(`${page}: ${target}: ${relative(ROOT, file)} does not exist`);
          continue;
        }
        if (anchor === undefined) continue;
        if (statSync(file).isDirectory() || !file.endsWith('.md')) {
          broken.push(`${page}: ${target}: an #anchor into something that is not a Markdown page`);
          continue;
        }
        const have = anchors(readFileSync(file, 'utf8'));
        if (!have.has(anchor)) broken.push(`${page}: ${target}: no heading of ${relative(ROOT, file)} has the anchor #${anchor} (it has: ${[...have].join(', ')})`);
      }
    }
  }
  assert.equal(broken, [], `broken links:\n${broken.join('\n')}`);
});

// ---- commands shown ----------------------------------------------------------------------

/** Where one shown command ends and the next may start: a pipe (not `\|` in a table), a list of commands, a redirection. */
const SEPARATOR = /(?<!\\)\|\|?|&&|;|\s2?>\s?/;
/** A command at the start of a piece of code: `tandem …`, `tandem-agent …`, also `sudo` or a path before it. */
const COMMAND = /^\s*(?:\$\s+)?(?:sudo\s+)?(?:\S*\/)?(tandem-agent|tandem)(?=\s|$)(.*)$/;
/** The commands of one code line: its comment cut off, split at separators. */
const piecesOf = (line: string) => line.replace(/(^|\s)#(\s.*)?$/, '').split(SEPARATOR);
/** Long flags in a command's text (`--keep-*`, a pattern, is none). */
const flagsOf = (text: string) => [...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])(?![\w*-])/g)].map((m) => `--${m[1]}`);
/** Does a help text list this flag (as a whole word)? */
const lists = (help: string, flag: string) => new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(help);

interface Shown {
  page: string;
  cmd: 'tandem' | 'tandem-agent';
  verb: string | null;
  flags: string[];
  text: string;
}

/** Every tandem and tandem-agent command shown in code, with its verb and flags. */
function shownCommands(): { commands: Shown[]; npmScripts: { page: string; script: string }[] } {
  const commands: Shown[] = [];
  const npmScripts: { page: string; script: string }[] = [];
  for (const page of pages()) {
    const { code, inline } = parse(read(page));
    // A code block's line may hold several commands; an inline span is one, at its start (a
    // quoted message such as `…; tandem deletes only its own snapshots` is not a command).
    for (const [span, pieces] of [...code.map((l) => [l, piecesOf(l)] as const), ...inline.map((l) => [l, [l]] as const)]) {
      for (const piece of pieces) {
        const m = COMMAND.exec(piece);
        if (!m) continue;
        const cmd = m[1] as Shown['cmd'];
        const rest = m[2];
        // tandem's first word is its verb when it is one (lower case); a placeholder like VERB is not checked.
        const verb = cmd === 'tandem' ? (/^\s*([a-z][a-z-]*)/.exec(rest)?.[1] ?? null) : null;
        if (cmd === 'tandem' && !verb && !rest.trim().startsWith('--')) continue;
        commands.push({ page, cmd, verb, flags: flagsOf(verb ? rest.slice(rest.indexOf(verb) + verb.length) : rest), text: `${cmd}${rest}`.trim() });
      }
      for (const m of span.matchAll(/\bnpm (?:run(?:-script)? ([a-z][\w:.-]*)|(test))\b/g)) npmScripts.push({ page, script: m[1] ?? m[2] });
    }
  }
  return { commands, npmScripts };
}

async function help(js: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'dist', js), ...args], { cwd: ROOT, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return stdout;
}

test('shown commands are found in code spans and blocks', () => {
  const { code, inline } = parse('Run `tandem backup --full` or:\n```\ntandem prune --dry-run   # --not-a-flag\ntandem-agent --check-config \\\n  /etc/tandem/agent.yaml | grep x --bad\n```\n');
  assert.equal(inline, ['tandem backup --full']);
  assert.equal(code, ['tandem prune --dry-run   # --not-a-flag', 'tandem-agent --check-config    /etc/tandem/agent.yaml | grep x --bad']);
  assert.equal(piecesOf('tandem prune --dry-run   # --not-a-flag'), ['tandem prune --dry-run  ']);
  assert.equal(piecesOf('tandem-agent --check-config x | grep --bad').map((p) => COMMAND.exec(p)?.[1] ?? null), ['tandem-agent', null]);
  assert.equal(piecesOf('tandem restore\\|drill … --restore-id R').length, 1);
  assert.is(COMMAND.exec("'tandem prune' is running"), null);
  assert.equal(flagsOf('--files-target DIR --keep-* x'), ['--files-target']);
});

test('every tandem VERB --flag, tandem-agent --flag and npm run script shown exists', async () => {
  const main = await help('coordinator/main.js', ['--help']);
  const verbs = [...(main.split(/^Verbs:$/m)[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]);
  assert.ok(verbs.includes('backup') && verbs.includes('restore'), `tandem --help lists no verbs:\n${main}`);
  const helps = new Map<string, string>(await Promise.all(verbs.map(async (v) => [v, await help('coordinator/main.js', [v, '--help'])] as [string, string])));
  const agentHelp = await help('agent/main.js', ['--help']);
  const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

  const { commands, npmScripts } = shownCommands();
  assert.ok(commands.length > 50, `only ${commands.length} commands found in the documentation: the scan is broken`);
  const wrong: string[] = [];
  for (const c of commands) {
    if (c.cmd === 'tandem-agent') {
      for (const f of c.flags) if (!lists(agentHelp, f) && f !== '--version') wrong.push(`${c.page}: \`${c.text}\`: tandem-agent has no ${f}`);
    } else if (c.verb === null) {
      for (const f of c.flags) if (f !== '--help' && f !== '--version') wrong.push(`${c.page}: \`${c.text}\`: tandem has no top-level ${f}`);
    } else if (!helps.has(c.verb)) {
      wrong.push(`${c.page}: \`${c.text}\`: ${c.verb} is not a verb of tandem (${verbs.join(', ')})`);
    } else {
      for (const f of c.flags) if (f !== '--help' && !lists(helps.get(c.verb)!, f)) wrong.push(`${c.page}: \`${c.text}\`: tandem ${c.verb} --help does not list ${f}`);
    }
  }
  for (const s of npmScripts) if (!scripts.includes(s.script)) wrong.push(`${s.page}: npm run ${s.script}: package.json has no such script (${scripts.join(', ')})`);
  assert.equal(wrong, [], `commands shown that do not exist:\n${wrong.join('\n')}`);
});

test.run();
