/**
 * Bech32 (BIP 173) as age uses it: no length limit on the data part, all upper or all lower
 * case, checksum over the lower-case string. age1… recipients and AGE-SECRET-KEY-1… identities.
 */

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i];
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >>> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/** Regroups bits; null when `pad` is false and the leftover bits are not zero padding. */
function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i];
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & max);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || acc !== 0) {
    return null;
  }
  return out;
}

/** Encodes `data` under the human-readable part `hrp` (lower case), upper case when `upper`. */
export function bech32Encode(hrp: string, data: Uint8Array, upper = false): string {
  const lower = hrp.toLowerCase();
  const words = convertBits(data, 8, 5, true) as number[];
  const mod = polymod([...hrpExpand(lower), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  const text = `${lower}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
  return upper ? text.toUpperCase() : text;
}

/** Decodes a Bech32 string into its lower-case human-readable part and data, or null when it is not valid Bech32. */
export function bech32Decode(text: string): { hrp: string; data: Buffer } | null {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return null;
  const s = text.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (sep < 1 || sep + 7 > s.length) return null;
  const hrp = s.slice(0, sep);
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i);
    if (c < 33 || c > 126) return null;
  }
  const words: number[] = [];
  for (const ch of s.slice(sep + 1)) {
    const w = CHARSET.indexOf(ch);
    if (w < 0) return null;
    words.push(w);
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== 1) return null;
  const bytes = convertBits(words.slice(0, -6), 5, 8, false);
  return bytes ? { hrp, data: Buffer.from(bytes) } : null;
}
