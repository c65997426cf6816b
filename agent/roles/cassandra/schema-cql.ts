/**
 * The `schema.cql` of a backup set, read back as hostile input. Any agent can write to the
 * destination, and the schema phase replays this file with the agent's CQL credentials: it is
 * parsed into statements (quotes, `$$` strings and `--`, `//`, `/* *\/` comments respected), and
 * only statements that recreate the set's own keyspace and tables are accepted:
 *
 *   CREATE KEYSPACE <own keyspace>
 *   CREATE TABLE <own keyspace>.<a table the manifest lists>
 *   CREATE TYPE <own keyspace>.<type>                       (a table's column may use it)
 *   CREATE [CUSTOM] INDEX [name] ON <own keyspace>.<listed table>
 *   CREATE MATERIALIZED VIEW <own keyspace>.<view> … FROM <own keyspace>.<listed table>
 *
 * This is what `DESCRIBE KEYSPACE` writes at backup (JanusGraph itself creates tables only).
 * Anything else (DROP, ALTER, INSERT, USE, BEGIN BATCH, GRANT, CREATE FUNCTION / AGGREGATE /
 * TRIGGER, which run code on the server, another keyspace, a statement without its `;`) is
 * refused, naming its first words and its line, before any statement is run.
 */
import { ValidationError } from '../../../shared/errors';

/** One statement of a CQL file: its text without comments and without the final `;`, and the line it starts on. */
export interface CqlStatement {
  text: string;
  line: number;
}

/** What a set's schema may recreate: its keyspace and the tables its manifest lists. */
export interface OwnSchema {
  keyspace: string;
  tables: readonly string[];
}

/** Splits CQL text into statements; ValidationError for an unterminated string, comment or statement. */
export function splitCql(cql: string, file = 'schema.cql'): CqlStatement[] {
  const out: CqlStatement[] = [];
  let text = '';
  let start = -1; // line of the current statement's first character, -1 before it
  let line = 1;
  let i = 0;
  const n = cql.length;
  const begin = () => {
    if (start < 0) start = line;
  };
  /** Copies a quoted run (`q` doubled inside escapes itself) into the statement. */
  const quoted = (q: string, what: string) => {
    const from = line;
    let j = i + 1;
    for (;;) {
      if (j >= n) throw new ValidationError(`${file} line ${from}: ${what} is not closed`);
      if (cql[j] === q) {
        if (cql[j + 1] === q) j += 2;
        else break;
      } else {
        if (cql[j] === '\n') line++;
        j++;
      }
    }
    text += cql.slice(i, j + 1);
    i = j + 1;
  };
  while (i < n) {
    const c = cql[i];
    const two = cql.slice(i, i + 2);
    if (two === '--' || two === '//') {
      while (i < n && cql[i] !== '\n') i++;
      text += ' ';
    } else if (two === '/*') {
      const end = cql.indexOf('*/', i + 2);
      if (end < 0) throw new ValidationError(`${file} line ${line}: a /* comment is not closed`);
      line += (cql.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
      text += ' ';
    } else if (c === "'") {
      begin();
      quoted("'", 'a string');
    } else if (c === '"') {
      begin();
      quoted('"', 'a quoted name');
    } else if (two === '$$') {
      begin();
      const end = cql.indexOf('$$', i + 2);
      if (end < 0) throw new ValidationError(`${file} line ${line}: a $$ string is not closed`);
      const body = cql.slice(i, end + 2);
      line += (body.match(/\n/g) ?? []).length;
      text += body;
      i = end + 2;
    } else if (c === ';') {
      if (start >= 0) out.push({ text: text.trim(), line: start });
      else throw new ValidationError(`${file} line ${line}: an empty statement (a lone ";")`);
      text = '';
      start = -1;
      i++;
    } else {
      if (c === '\n') line++;
      else if (!/\s/.test(c)) begin();
      text += c;
      i++;
    }
  }
  if (start >= 0) throw new ValidationError(`${file} line ${start}: statement "${firstWords(text)}" is not terminated by ";"`);
  return out;
}

/** A token of a statement: a word, a quoted name (`quoted`), or one punctuation character. */
interface Token {
  value: string;
  quoted: boolean;
}

/** The tokens of a statement's text (comments are already gone); strings and numbers are kept as opaque tokens. */
function tokens(text: string): Token[] {
  const out: Token[] = [];
  const re = /\s+|"((?:[^"]|"")*)"|'(?:[^']|'')*'|\$\$[\s\S]*?\$\$|([A-Za-z_][A-Za-z0-9_]*)|([0-9][A-Za-z0-9_.+-]*)|([\s\S])/gy;
  while (re.lastIndex < text.length) {
    const m = re.exec(text)!; // the last alternative matches any character
    if (/^\s/.test(m[0])) continue;
    if (m[1] !== undefined) out.push({ value: m[1].replace(/""/g, '"'), quoted: true });
    else out.push({ value: m[0], quoted: false });
  }
  return out;
}

/** The first words of a statement, for messages. */
function firstWords(text: string): string {
  const words = text.trim().split(/\s+/).slice(0, 4).join(' ');
  return words.length > 60 ? `${words.slice(0, 60)}…` : words;
}

/**
 * Parses `schema.cql` and returns its statements if every one recreates the set's own keyspace
 * or one of its tables (see the file's comment); throws ValidationError naming the first statement
 * that does not, with its line. Names compare as Cassandra does: unquoted ones case-insensitively.
 */
export function checkSchemaCql(cql: string, own: OwnSchema, file = 'schema.cql'): CqlStatement[] {
  const statements = splitCql(cql, file);
  const tables = new Set(own.tables);
  for (const st of statements) {
    const refuse = (why: string): never => {
      throw new ValidationError(`${file} line ${st.line}: refusing "${firstWords(st.text)}": ${why}; the schema of a backup set only recreates its own keyspace ${own.keyspace} and tables`, { line: st.line });
    };
    const t = tokens(st.text);
    let k = 0;
    const word = (w: string) => !t[k]?.quoted && t[k]?.value.toUpperCase() === w;
    const expect = (w: string) => (word(w) ? k++ : refuse(`expected ${w}`));
    /** An identifier, normalized as Cassandra does; null when the token is not one. */
    const ident = (): string | null => {
      const tok = t[k];
      if (!tok) return null;
      if (tok.quoted) return (k++, tok.value);
      return /^[A-Za-z_][A-Za-z0-9_]*$/.test(tok.value) ? (k++, tok.value.toLowerCase()) : null;
    };
    /** `<keyspace>.<name>`: the keyspace must be given and be the set's own. */
    const qualified = (what: string): string => {
      const ks = ident();
      if (ks === null || t[k]?.value !== '.' || t[k].quoted) return refuse(`the ${what} is not named as ${own.keyspace}.<name>`);
      k++;
      const name = ident();
      if (name === null) return refuse(`the ${what} has no name`);
      if (!sameName(ks, own.keyspace)) refuse(`it names keyspace ${ks}`);
      return name;
    };
    const ifNotExists = () => {
      if (word('IF')) {
        k++;
        expect('NOT');
        expect('EXISTS');
      }
    };
    const listed = (table: string) => {
      if (![...tables].some((x) => sameName(table, x))) refuse(`table ${table} is not one the backup set holds`);
    };
    if (!word('CREATE')) refuse(`only CREATE statements are replayed`);
    k++;
    if (word('KEYSPACE')) {
      k++;
      ifNotExists();
      const ks = ident();
      if (ks === null || !sameName(ks, own.keyspace)) refuse(`it creates keyspace ${ks ?? '?'}`);
    } else if (word('TABLE')) {
      k++;
      ifNotExists();
      listed(qualified('table'));
    } else if (word('TYPE')) {
      k++;
      ifNotExists();
      qualified('type');
    } else if (word('INDEX') || (word('CUSTOM') && t[k + 1] && !t[k + 1].quoted && t[k + 1].value.toUpperCase() === 'INDEX')) {
      k += word('CUSTOM') ? 2 : 1;
      ifNotExists();
      if (!word('ON')) ident(); // the index's own name, unqualified
      expect('ON');
      listed(qualified('indexed table'));
    } else if (word('MATERIALIZED')) {
      k++;
      expect('VIEW');
      ifNotExists();
      qualified('view');
      const from = t.findIndex((x, j) => j > k && !x.quoted && x.value.toUpperCase() === 'FROM');
      if (from < 0) refuse('the view has no FROM');
      k = from + 1;
      listed(qualified('view\'s base table'));
    } else {
      refuse(`CREATE ${t[k]?.value ?? ''} is not replayed (only KEYSPACE, TABLE, TYPE, INDEX and MATERIALIZED VIEW)`);
    }
  }
  return statements;
}

/** Cassandra's names: the manifest keeps them as the server has them; an unquoted name was lowercased when read. */
const sameName = (a: string, b: string) => a === b || a === b.toLowerCase();
