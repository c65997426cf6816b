/**
 * Who may call the agent. TLS already refuses a certificate that does not chain to the fleet's
 * CA, that has expired, or whose extended key usage excludes client authentication. That still
 * lets in any certificate of the CA with no extended key usage at all, so every call is checked
 * here once more, before its handler runs: the certificate must name clientAuth explicitly and
 * carry the coordinator's name (CN or DNS SAN) from the agent's configuration.
 *
 * The one exception is the standard health service (grpc.health.v1.Health): it tells only
 * SERVING or NOT_SERVING and changes nothing, and the probes that ask (a load balancer,
 * grpc_health_probe, Kubernetes) must not hold the coordinator's key. It accepts any certificate
 * of the fleet's CA issued for clientAuth, whatever its name; never a caller without one.
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { parseSubjectAltName } from '../../shared/rpc/alt-names';

export { parseSubjectAltName, type AltName } from '../../shared/rpc/alt-names';

/** OID of the extended key usage id-kp-clientAuth. */
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** The names a certificate carries: its CN(s) and its DNS subject alternative names, each exactly as signed; null when its SAN does not parse. */
export function certificateNames(cert: PeerCertificate): string[] | null {
  const cn = cert.subject?.CN as string | string[] | undefined;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  // From the certificate itself when it is at hand, else node's text of it (the same format).
  const text = cert.raw ? new X509Certificate(cert.raw).subjectAltName : cert.subjectaltname;
  const alt = parseSubjectAltName(text ?? '');
  if (alt === null) return null;
  for (const a of alt) if (a.type === 'DNS') names.push(a.value);
  return names;
}

/** The path prefix of the standard health service's methods (Check, Watch, List). */
export const HEALTH_METHOD_PREFIX = '/grpc.health.v1.Health/';

/**
 * Why a caller with this certificate may not call the agent (status and message), or null when it
 * may. `anyName`: any clientAuth certificate of the fleet will do (the health service).
 */
export function refusal(cert: PeerCertificate | undefined, coordinatorName: string, anyName = false): { code: grpc.status; details: string } | null {
  const want = anyName
    ? 'a client certificate of the fleet CA with extended key usage clientAuth (any name: `tandem certs issue --kind coordinator --name NAME`)'
    : `a client certificate of the fleet CA with extended key usage clientAuth and the name ${JSON.stringify(coordinatorName)} (tls.coordinatorName)`;
  if (!cert?.raw) return { code: grpc.status.UNAUTHENTICATED, details: `no verified client certificate; this agent accepts only ${want}` };
  const eku = cert.ext_key_usage ?? [];
  if (!eku.includes(CLIENT_AUTH_OID)) {
    return { code: grpc.status.PERMISSION_DENIED, details: `the caller's certificate is not issued for clientAuth (extended key usage: ${eku.length ? eku.join(', ') : 'none'}); this agent accepts only ${want}` };
  }
  if (anyName) return null;
  const names = certificateNames(cert);
  if (names === null) return { code: grpc.status.PERMISSION_DENIED, details: `the caller's certificate has a subject alternative name that cannot be read; this agent accepts only ${want}` };
  if (!names.includes(coordinatorName)) {
    return { code: grpc.status.PERMISSION_DENIED, details: `the caller's certificate names ${names.length ? names.map((n) => JSON.stringify(n)).join(', ') : 'nothing'}; this agent accepts only ${want}` };
  }
  return null;
}

/**
 * A server interceptor that refuses, before any handler runs, every call whose peer certificate
 * is not the coordinator's (for the health service: not a clientAuth certificate of the fleet).
 * Every method of every service on the port goes through it.
 */
export function coordinatorOnly(coordinatorName: string, onRefused: (method: string, details: string) => void = () => undefined): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const no = refusal(call.getAuthContext().sslPeerCertificate, coordinatorName, method.path.startsWith(HEALTH_METHOD_PREFIX));
            if (!no) return mdNext(metadata);
            onRefused(method.path, no.details);
            call.sendStatus({ code: no.code, details: no.details });
          },
        });
      },
    });
}
