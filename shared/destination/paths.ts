/**
 * Path validation for everything a destination reads or writes. Relative paths come from backup
 * ids, host names, keyspaces and tables; they reach argv (rsync, ssh) and ssh's remote shell, so
 * they are held to a small character set that needs no quoting and cannot escape the root.
 */
import { posix } from 'node:path';
import { ValidationError } from '../errors';

/** One path segment: the only characters allowed anywhere in a relative path. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Characters allowed in absolute paths from the config (roots, key files); no shell metacharacters. */
const ABS_PATH = /^\/(?:[A-Za-z0-9._@+-]+(?:\/[A-Za-z0-9._@+-]+)*)?$/;

/**
 * Returns `p` unchanged if it is a safe path relative to a destination root, else throws
 * ValidationError. Refused: empty, absolute, `.`/`..`, empty segments (`a//b`, trailing `/`),
 * backslashes, NUL and control characters, anything outside `[A-Za-z0-9._/-]`, and segments
 * starting with `.` or `-` (dot names are reserved for temporary files, which list() hides;
 * a leading dash could be read as an option).
 */
export function safeRelPath(p: string): string {
  const why = relPathProblem(p);
  if (why) throw new ValidationError(`unsafe destination path ${JSON.stringify(p)}: ${why}`, { path: p });
  return p;
}

/** Like safeRelPath, but also accepts '' (the whole root) and one trailing '/'; returns it without the '/'. */
export function safeRelPrefix(prefix: string): string {
  if (prefix === '') return '';
  return safeRelPath(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** The reason `p` is not a safe relative path, or null if it is. */
export function relPathProblem(p: string): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'it is empty';
  if (p.length > 1024) return 'it is longer than 1024 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) return 'it contains a control character';
  if (p.includes('\\')) return 'it contains a backslash';
  if (p.startsWith('/')) return 'it is absolute';
  const bad = p.match(/[^A-Za-z0-9._/-]/);
  if (bad) return `character ${JSON.stringify(bad[0])} is not allowed (only A-Z a-z 0-9 . _ / -)`;
  for (const seg of p.split('/')) {
    if (seg === '') return 'it has an empty segment';
    if (seg === '.' || seg === '..') return `segment "${seg}" is not allowed`;
    if (!SEGMENT.test(seg)) return `segment "${seg}" starts with "${seg[0]}"`;
  }
  return null;
}

/** True if a path relative to the root has a segment starting with '.', i.e. is a temporary or foreign file to hide. */
export function isHiddenRelPath(p: string): boolean {
  return p.split('/').some((seg) => seg.startsWith('.'));
}

/** The reason `p` is not a safe normalized absolute path, or null if it is. */
export function absPathProblem(p: string): string | null {
  if (!p.startsWith('/')) return 'it must be absolute (start with "/")';
  if (p.length > 1 && p.endsWith('/')) return 'it must not end with "/"';
  if (posix.normalize(p) !== p) return `it is not normalized (did you mean ${posix.normalize(p).replace(/(.)\/$/, '$1')}?)`;
  if (!ABS_PATH.test(p)) return 'only A-Z a-z 0-9 . _ @ + - and "/" are allowed (no spaces, quotes or shell metacharacters)';
  return null;
}

/** Joins a validated root and a validated relative path with '/'. */
export function joinRoot(root: string, rel: string): string {
  if (rel === '') return root;
  return root === '/' ? `/${rel}` : `${root}/${rel}`;
}
