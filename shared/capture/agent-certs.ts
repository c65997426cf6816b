/**
 * The certificates that vouch for the capture's lines. The capturing agent stores its own TLS
 * certificate beside its capture (`tandem_capture/<cluster>/<node>/certs/<id>.pem`), and every
 * renewed one under its own id, so lines signed before a renewal keep checking. A stored
 * certificate is input from the destination like any other: it is believed only when its id is
 * the digest of its bytes, the fleet's CA issued it (signature checked), it is an agent's
 * (serverAuth, not a CA) and it carries the node's name (CN or DNS name).
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import type { Destination } from '../destination';
import { captureCertPath } from '../destination/layout';
import { ValidationError } from '../errors';
import { parseSubjectAltName } from '../rpc/alt-names';
import type { LineTrust } from './signed-line';

/** A certificate is never larger; a bigger stored one is refused unread. */
const CERT_MAX_BYTES = 64 * 1024;
/** id-kp-serverAuth: agents' certificates are issued for it (`tandem certs issue --kind agent`). */
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/** The id of a certificate: the first 32 hex digits of the sha256 of its DER. */
export const certIdOf = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex').slice(0, 32);

/** The names a certificate carries: its CNs and DNS subject alternative names; null when its SAN does not parse. */
export function namesOf(cert: X509Certificate): string[] | null {
  const names = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  const alt = parseSubjectAltName(cert.subjectAltName ?? '');
  if (alt === null) return null;
  for (const a of alt) if (a.type === 'DNS') names.push(a.value);
  return names;
}

/** Why `cert` may not vouch for `node`'s capture under `ca`, or null when it may. */
export function certRefusal(cert: X509Certificate, ca: X509Certificate, node: string): string | null {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'it was not issued by the fleet\'s CA';
  if (cert.ca) return 'it is a CA certificate, not an agent\'s';
  const eku = cert.keyUsage ?? [];
  if (!eku.includes(SERVER_AUTH_OID)) return `it is not issued for an agent (extended key usage: ${eku.length ? eku.join(', ') : 'none'})`;
  const names = namesOf(cert);
  if (names === null) return 'its subject alternative name cannot be read';
  if (!names.includes(node)) return `it names ${names.map((n) => JSON.stringify(n)).join(', ') || 'nothing'}, not ${JSON.stringify(node)}`;
  return null;
}

/** The trust of a reader of the capture at `dest`: agents' certificates stored there, checked against the fleet's CA. */
export function destinationTrust(dest: Destination, ca: X509Certificate): LineTrust {
  const checked = new Map<string, Promise<KeyObject>>();
  const load = async (cluster: string, node: string, certId: string): Promise<KeyObject> => {
    const path = captureCertPath(cluster, node, certId);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(await dest.readSmall(path, CERT_MAX_BYTES));
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError(`${path}: the certificate a capture line names cannot be read (${(err as Error).message})`);
    }
    if (certIdOf(cert) !== certId) throw new ValidationError(`${path} is not the certificate its name says (its digest differs): it was replaced at the destination`);
    const no = certRefusal(cert, ca, node);
    if (no) throw new ValidationError(`${path} does not vouch for ${node}'s capture: ${no}`);
    return cert.publicKey;
  };
  return {
    publicKey(cluster, node, certId) {
      const k = `${cluster}/${node}/${certId}`;
      let p = checked.get(k);
      if (!p) {
        p = load(cluster, node, certId);
        // A failed read (the destination down) is tried again by the next line, not remembered.
        p.catch(() => checked.delete(k));
        checked.set(k, p);
      }
      return p;
    },
  };
}
