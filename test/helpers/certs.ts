/**
 * Certificates that tandem never issues, for callers that must be refused: made with openssl
 * (argv only), as `tandem certs` makes the real ones (coordinator/cli/certs.ts).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { initCa } from '../../coordinator/cli/certs';
import type { TlsFiles } from '../../shared/rpc/tls';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** How a test certificate differs from a coordinator's. */
export interface OddCert {
  /** File stem in `dir`. */
  file: string;
  /** CN and DNS SAN. */
  name: string;
  /** extendedKeyUsage value, or null for none at all. */
  eku: 'clientAuth' | 'serverAuth' | null;
  /** The CA folder (ca.crt, ca.key) that signs it, or 'self' for a self-signed certificate. */
  signer: string | 'self';
  /** Validity in days; negative: expired already. */
  days?: number;
  /**
   * DNS SANs written as raw values of an extension file, in place of `name` (only with a CA
   * signer): a value may then hold commas, e.g. `x,DNS:coordinator,y`, as a careless CA signs it.
   */
  dnsNames?: string[];
}

/** Makes `<dir>/<file>.crt` and `.key` as described; returns the TLS files a caller would use with the fleet CA `ca`. */
export async function oddCert(dir: string, c: OddCert, ca: string): Promise<TlsFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = join(dir, `${c.file}.key`);
  const cert = join(dir, `${c.file}.crt`);
  const csr = join(dir, `${c.file}.csr`);
  const ext = [
    '-addext', `subjectAltName=DNS:${c.name}`,
    ...(c.eku ? ['-addext', `extendedKeyUsage=${c.eku}`] : []),
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
  ];
  if (c.signer === 'self') {
    await runCommand(['openssl', 'req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', String(c.days ?? 30), '-subj', `/CN=${c.name}`, ...ext]);
    return { ca, cert, key };
  }
  const extFile = join(dir, `${c.file}.ext`);
  if (c.dnsNames) {
    // In a section each value is taken whole: commas inside it are not separators.
    const lines = ['subjectAltName = @alt', ...(c.eku ? [`extendedKeyUsage = ${c.eku}`] : []), 'keyUsage = critical,digitalSignature,keyEncipherment', '[alt]', ...c.dnsNames.map((n, i) => `DNS.${i + 1} = ${n}`)];
    await writeFile(extFile, `${lines.join('\n')}\n`);
  }
  await runCommand(['openssl', 'req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${c.name}`, ...(c.dnsNames ? [] : ext)]);
  try {
    await runCommand([
      'openssl', 'x509', '-req', '-in', csr, '-CA', join(c.signer, 'ca.crt'), '-CAkey', join(c.signer, 'ca.key'),
      '-CAcreateserial', '-days', String(c.days ?? 30), ...(c.dnsNames ? ['-extfile', extFile] : ['-copy_extensions', 'copyall']), '-out', cert,
    ]);
  } finally {
    await rm(csr, { force: true });
    await rm(extFile, { force: true });
  }
  return { ca, cert, key };
}

/** A second CA, unrelated to the fleet's, in `dir`. */
export async function otherCa(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await initCa(dir);
  return dir;
}
