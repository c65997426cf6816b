/**
 * Lines the commitlog capture writes at the destination (a segment's index, the node's gaps),
 * each signed by the agent that captured them. The capture runs on its own, without the
 * coordinator, so the coordinator's signing key cannot vouch for it; the agent's own TLS key,
 * whose certificate the fleet's CA issued for that node, does. A reader believes a line only when
 * its signature checks against a certificate of the fleet's CA naming the node (agent-certs.ts),
 * so whoever can write the destination cannot plant pieces or edit offsets; a copied line does
 * not check in another node's, cluster's or file's place.
 *
 * A line is the JSON of its fields followed by `cert` (the signing certificate's id) and `sig`
 * (base64). What is signed is a statement naming the kind, the cluster and the node, then the
 * line's JSON without `sig`, as re-serialised from the parsed line: the fields a reader uses are
 * exactly the ones signed, whatever spacing or duplicate keys the stored text holds.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { ValidationError } from '../errors';

/** What a capture line records: a piece of a segment, a gap, or a change of the file store (its journal). */
export type LineKind = 'piece' | 'gap' | 'file';

/** The id of an agent certificate: the first 32 hex digits of the sha256 of its DER. */
export const CERT_ID = /^[0-9a-f]{32}$/;

/** Who signs the capture's lines: the agent's TLS key and its certificate's id. */
export interface LineSigner {
  readonly certId: string;
  sign(statement: Buffer): Buffer;
}

/** Where a reader gets the public key of an agent certificate, checked for the node (agent-certs.ts). */
export interface LineTrust {
  publicKey(cluster: string, node: string, certId: string): Promise<KeyObject>;
}

/** A signer over a private key (ECDSA or Ed25519, as the fleet's certificates carry). */
export function keySigner(privateKey: KeyObject, certId: string): LineSigner {
  const digest = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return { certId, sign: (statement) => sign(digest, statement, privateKey) };
}

const statementOf = (kind: LineKind, cluster: string, node: string, unsigned: string): Buffer => Buffer.from(`tandem capture ${kind} of ${cluster}/${node}\n${unsigned}`);

/** The line (no newline) for `fields`, signed. `fields` must not hold `cert` or `sig`. */
export function signLine(signer: LineSigner, kind: LineKind, cluster: string, node: string, fields: Record<string, unknown>): string {
  const unsigned = JSON.stringify({ ...fields, cert: signer.certId });
  const sig = signer.sign(statementOf(kind, cluster, node, unsigned)).toString('base64');
  return JSON.stringify({ ...JSON.parse(unsigned), sig });
}

/**
 * The fields of a stored line (without `cert` and `sig`) once its signature checks; a
 * ValidationError naming `where` otherwise. Nothing of an unsigned or badly signed line is used.
 */
export async function openLine(trust: LineTrust, kind: LineKind, cluster: string, node: string, line: string, where: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new ValidationError(`${where} is not JSON: the capture's file is damaged`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ValidationError(`${where} is not a JSON object`);
  const { sig, ...rest } = parsed as Record<string, unknown>;
  const certId = rest.cert;
  if (typeof sig !== 'string' || typeof certId !== 'string') throw new ValidationError(`${where} is not signed: a capture line carries the agent's signature (cert, sig); it was not written by a tandem agent that signs`);
  if (!CERT_ID.test(certId)) throw new ValidationError(`${where} names a certificate id that is not one (${JSON.stringify(certId.slice(0, 40))})`);
  const key = await trust.publicKey(cluster, node, certId);
  const digest = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  if (!verify(digest, statementOf(kind, cluster, node, JSON.stringify(rest)), key, Buffer.from(sig, 'base64'))) {
    throw new ValidationError(`${where}: its signature does not check against the certificate of ${node} it names: the line was changed or planted at the destination`);
  }
  delete rest.cert;
  return rest;
}
