/**
 * Names in a certificate's subjectAltName as node:crypto prints it. Shared by the agent's check of
 * its callers and by every reader of what an agent signed at the destination (the commitlog
 * capture), which must find the node's name in the agent's certificate the same way.
 */

/** One entry of a subjectAltName string: its type (`DNS`, `IP Address`, `URI`, ...) and its value, unquoted. */
export interface AltName {
  type: string;
  value: string;
}

/**
 * Parses node's subjectAltName text (`DNS:a, DNS:b, IP Address:10.0.0.1`) into its entries. Node
 * quotes a value holding a comma, a quote or any odd character as a JSON string
 * (`DNS:"x,DNS:coordinator,y"`), so the text is read entry by entry, never split on commas: one
 * CA-signed name holding commas stays one name. Returns null for text that does not parse, which
 * the caller refuses.
 */
export function parseSubjectAltName(text: string): AltName[] | null {
  const out: AltName[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) return null;
    const type = text.slice(i, colon);
    if (!/^[A-Za-z][A-Za-z ]*$/.test(type)) return null;
    i = colon + 1;
    let value: string;
    if (text[i] === '"') {
      // A JSON string: find its closing quote, skipping escaped characters.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) return null;
      try {
        value = JSON.parse(text.slice(i, j + 1)) as string;
      } catch {
        return null;
      }
      i = j + 1;
    } else {
      const end = text.indexOf(', ', i);
      value = text.slice(i, end < 0 ? text.length : end);
      // Unquoted values never hold these (node would have quoted them).
      if (/[",\\]/.test(value)) return null;
      i = end < 0 ? text.length : end;
    }
    out.push({ type, value });
    if (i === text.length) break;
    if (!text.startsWith(', ', i)) return null;
    i += 2;
  }
  return out;
}

