/**
 * Who may call the agent. TLS already refuses a certificate that does not chain to the fleet's
 * CA, that has expired, or whose extended key usage excludes client authentication. That still
 * lets in any certificate of the CA with no extended key usage at all, so every call is checked
 * here once more, before its handler runs: the certificate must name clientAuth explicitly and
 * carry the coordinator's name (CN or DNS SAN) from the agent's configuration.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';

/** OID of the extended key usage id-kp-clientAuth. */
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** The names a certificate carries: its CN(s) and its DNS subject alternative names. */
export function certificateNames(cert: PeerCertificate): string[] {
  const cn = cert.subject?.CN as string | string[] | undefined;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.*)$/.exec(entry);
    if (m) names.push(m[1].trim());
  }
  return names;
}

/** Why a caller with this certificate may not call the agent (status and message), or null when it may. */
export function refusal(cert: PeerCertificate | undefined, coordinatorName: string): { code: grpc.status; details: string } | null {
  const want = `a client certificate of the fleet CA with extended key usage clientAuth and the name ${JSON.stringify(coordinatorName)} (tls.coordinatorName)`;
  if (!cert?.raw) return { code: grpc.status.UNAUTHENTICATED, details: `no verified client certificate; this agent accepts only ${want}` };
  const eku = cert.ext_key_usage ?? [];
  if (!eku.includes(CLIENT_AUTH_OID)) {
    return { code: grpc.status.PERMISSION_DENIED, details: `the caller's certificate is not issued for clientAuth (extended key usage: ${eku.length ? eku.join(', ') : 'none'}); this agent accepts only ${want}` };
  }
  const names = certificateNames(cert);
  if (!names.includes(coordinatorName)) {
    return { code: grpc.status.PERMISSION_DENIED, details: `the caller's certificate names ${names.length ? names.map((n) => JSON.stringify(n)).join(', ') : 'nothing'}; this agent accepts only ${want}` };
  }
  return null;
}

/**
 * A server interceptor that refuses, before any handler runs, every call whose peer certificate
 * is not the coordinator's. Every method of the service goes through it.
 */
export function coordinatorOnly(coordinatorName: string, onRefused: (method: string, details: string) => void = () => undefined): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const no = refusal(call.getAuthContext().sslPeerCertificate, coordinatorName);
            if (!no) return mdNext(metadata);
            onRefused(method.path, no.details);
            call.sendStatus({ code: no.code, details: no.details });
          },
        });
      },
    });
}
