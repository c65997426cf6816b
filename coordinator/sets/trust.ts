/**
 * Part of coordinator/sets/, the read side of the destination: the one place that decides whether
 * a folder at the destination is a backup set tandem believes.
 * The destination is storage others can write (every agent, whoever holds its credentials), so a
 * manifest counts only when `<id>/manifest.sig` signs its exact bytes with a trusted key, it
 * describes the folder it is in, and its fields hold (real dates, none in the future, at least
 * one node). A pruned marker counts only when `<id>/pruned.sig` signs it and it names its folder.
 * Everything is read through a fixed cap: nothing planted can be large enough to hurt.
 *
 * Untrusted folders are never a parent, never complete, never counted or deleted by a prune.
 */
import { errorMessage } from '../../shared/errors';
import type { Destination } from '../../shared/destination';
import { MANIFEST_FILE, MANIFEST_SIGNATURE, manifestPath, setFile } from '../../shared/destination/layout';
import { manifestDigest, parseManifest, type Manifest } from '../../shared/manifest';
import { checkSignature, MANIFEST_MAX_BYTES, OversizedError, readCapped, SIGNATURE_MAX_BYTES, type TrustedKeys } from '../../shared/signing';

/** Why a folder's manifest or marker is not believed. */
export const UNTRUSTED_REASONS = ['unsigned', 'invalid-signature-file', 'unknown-key', 'bad-signature', 'folder-mismatch', 'invalid-field', 'oversized'] as const;
/** Why a folder's manifest or marker is not believed. */
export type UntrustedReason = (typeof UNTRUSTED_REASONS)[number];

/** How far a manifest's completedAt may be ahead of the reader's clock (agents' and coordinators' clocks drift): 5 min. */
export const FUTURE_SKEW_MS = 5 * 60_000;

/** What checks signatures, and the clock that dates are compared with. */
export interface SetTrust {
  keys: TrustedKeys;
  /** ms since the epoch; default Date.now. */
  now?: () => number;
}

/** A manifest's verdict: believed, not believed (why), or signed but unreadable by this tandem. */
export type ManifestVerdict =
  | { kind: 'trusted'; manifest: Manifest; sha256: string; keyId: string }
  | { kind: 'untrusted'; reason: UntrustedReason; detail: string }
  | { kind: 'unreadable'; problem: string };

/** A pruned marker's or other signed file's verdict. */
export type SignedFileVerdict = { kind: 'trusted'; body: Buffer; keyId: string } | { kind: 'untrusted'; reason: UntrustedReason; detail: string };

/**
 * Reads `<id>/<file>` and its signature `<id>/<sig>`, both capped, and checks the signature.
 * `absent` when `<id>/<file>` does not exist.
 */
export async function readSigned(dest: Destination, id: string, file: string, sig: string, cap: number, trust: SetTrust): Promise<SignedFileVerdict | 'absent'> {
  let body: Buffer | null;
  try {
    body = await readCapped(dest, setFile(id, file), cap);
  } catch (err) {
    if (err instanceof OversizedError) return { kind: 'untrusted', reason: 'oversized', detail: err.message };
    throw err;
  }
  if (!body) return 'absent';
  let sigBody: Buffer | null;
  try {
    sigBody = await readCapped(dest, setFile(id, sig), SIGNATURE_MAX_BYTES);
  } catch (err) {
    if (err instanceof OversizedError) return { kind: 'untrusted', reason: 'invalid-signature-file', detail: err.message };
    throw err;
  }
  if (!sigBody) return { kind: 'untrusted', reason: 'unsigned', detail: `${setFile(id, file)} has no ${sig}` };
  const v = checkSignature(sigBody, file, body, trust.keys);
  if (!v.ok) return { kind: 'untrusted', reason: v.reason, detail: `${setFile(id, sig)}: ${v.detail}` };
  return { kind: 'trusted', body, keyId: v.keyId };
}

/**
 * The verdict on `<id>/manifest.json`, null when there is none. The signature is checked before
 * the manifest is parsed; a read error of the destination itself (not its content) throws.
 */
export async function manifestVerdict(dest: Destination, id: string, trust: SetTrust): Promise<ManifestVerdict | null> {
  const signed = await readSigned(dest, id, MANIFEST_FILE, MANIFEST_SIGNATURE, MANIFEST_MAX_BYTES, trust);
  if (signed === 'absent') return null;
  if (signed.kind === 'untrusted') return signed;
  return judgeManifest(signed.body, id, signed.keyId, trust.now?.() ?? Date.now());
}

/** The checks of a manifest whose signature holds: about this folder, and its fields sound. */
export function judgeManifest(body: Buffer, id: string, keyId: string, nowMs: number): ManifestVerdict {
  const claimed = claimedId(body);
  if (claimed !== undefined && claimed !== id) return { kind: 'untrusted', reason: 'folder-mismatch', detail: `${manifestPath(id)} describes backup set ${JSON.stringify(claimed)}, not its folder ${id}` };
  let manifest: Manifest;
  try {
    manifest = parseManifest(body, id);
  } catch (err) {
    return { kind: 'unreadable', problem: errorMessage(err) };
  }
  const bad = fieldProblem(manifest, nowMs);
  if (bad) return { kind: 'untrusted', reason: 'invalid-field', detail: `${manifestPath(id)}: ${bad}` };
  return { kind: 'trusted', manifest, sha256: manifestDigest(body), keyId };
}

/** What is wrong with a manifest's fields that its schema cannot see; null when nothing. */
export function fieldProblem(m: Manifest, nowMs: number): string | null {
  for (const f of ['startedAt', 'committedAt', 'completedAt'] as const) {
    if (!isIsoInstant(m[f])) return `${f} ${JSON.stringify(m[f])} is not an ISO 8601 instant`;
  }
  const completed = Date.parse(m.completedAt);
  if (completed > nowMs + FUTURE_SKEW_MS) return `completedAt ${m.completedAt} is in the future`;
  if (Date.parse(m.startedAt) > completed) return `startedAt ${m.startedAt} is after completedAt ${m.completedAt}`;
  if (!m.nodes.length) return 'nodes is empty: a set describes at least one node';
  return null;
}

/** True for `YYYY-MM-DDTHH:MM:SS(.sss)Z` naming a real instant (what toISOString writes). */
export function isIsoInstant(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/.test(s)) return false;
  const ms = Date.parse(s);
  // Date.parse rolls 2025-02-30 over to March: a real date prints back as itself.
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === s.slice(0, 19);
}

/** The `id` a manifest's JSON claims, undefined when it does not read (the parser then says why). */
function claimedId(body: Buffer): unknown {
  try {
    const v = JSON.parse(body.toString()) as unknown;
    return v && typeof v === 'object' && 'id' in v ? (v as { id: unknown }).id : undefined;
  } catch {
    return undefined;
  }
}

/** One line for an operator: the reason and what to do. */
export function untrustedAdvice(id: string, reason: UntrustedReason, detail: string): string {
  const what = reason === 'unsigned'
    ? `if it was written by a tandem before sets were signed, check and sign it with 'tandem adopt ${id}'`
    : reason === 'unknown-key'
      ? "if its key is an earlier signing key of this fleet, list that key's public file in the fleet file's signing.trusted"
      : 'it was not written by this fleet\'s coordinator as it is now: look at who can write the destination';
  return `backup set ${id} is untrusted (${reason}: ${detail}); ${what}`;
}
