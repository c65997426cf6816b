/**
 * One way to print a string tandem did not write itself (a manifest's hostname or summary, a
 * path or error text read back from the destination, an agent's answer) on an operator's
 * terminal: control characters (C0, DEL, C1, among them ESC, which starts a terminal escape
 * sequence) and the bidirectional overrides that reorder what a line shows are written as
 * `\u{…}`, so nothing read back can move the cursor, rewrite earlier lines, retitle the window
 * or make a line read otherwise than it is. Newline and tab are kept where the caller allows them.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const UNSAFE_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const escape = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

/** `s` with every control and reordering character escaped; newlines and tabs kept. */
export function printable(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** `s` on one line: newlines and tabs escaped too. */
export function printableLine(s: string): string {
  return s.replace(UNSAFE_ONE_LINE, escape);
}
