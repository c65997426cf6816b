/**
 * Certificates for tests of the commitlog capture: a fleet CA made by `tandem certs` (openssl),
 * an agent certificate for each node asked, and what a reader of the capture checks them with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { initCa, issueCert } from '../../coordinator/cli/certs';
import type { CaptureSigning } from '../../agent/roles/cassandra/capture';
import { destinationTrust } from '../../shared/capture/agent-certs';
import type { LineTrust } from '../../shared/capture/signed-line';
import type { Destination } from '../../shared/destination';
import { scratchDir } from './scratch';

/** A fleet CA in a scratch folder, with an agent certificate per node. */
export interface CaptureCerts {
  dir: string;
  ca: X509Certificate;
  /** The TLS files of `node`'s agent, issued on first use. */
  signing(node: string): Promise<CaptureSigning>;
  /** A reader's trust in what agents of this CA signed at `dest`. */
  trust(dest: Destination): LineTrust;
}

/** Makes the CA; slow-ish (openssl), so a test file makes one and shares it. */
export async function makeCaptureCerts(): Promise<CaptureCerts> {
  const dir = await scratchDir('capture-certs');
  await initCa(dir);
  const issued = new Map<string, Promise<CaptureSigning>>();
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
  return {
    dir,
    ca,
    signing(node) {
      let p = issued.get(node);
      if (!p) {
        p = issueCert(dir, node, 'agent', ['127.0.0.1']).then(() => ({ cert: join(dir, `${node}.crt`), key: join(dir, `${node}.key`) }));
        issued.set(node, p);
      }
      return p;
    },
    trust(dest) {
      return destinationTrust(dest, ca);
    },
  };
}
