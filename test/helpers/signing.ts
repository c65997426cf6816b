/**
 * Signing keys for test fleets and for tests that write or edit manifests: every fleet file must
 * name a signing key, and a manifest edited by a test must be signed again to be a set.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { manifestPath, manifestSignaturePath } from '../../shared/destination/layout';
import { join } from 'node:path';
import type { Destination } from '../../shared/destination';
import { manifestDigest, type Manifest } from '../../shared/manifest';
import { generateSigningKeyPair, parseSigningKey, signatureFor, type SigningKey } from '../../shared/signing';
import type { SetTrust } from '../../coordinator/sets/trust';
import type { Signing } from '../../coordinator/signing';

/** The key files of a fleet's `signing:` block. */
export interface SigningFiles {
  /** Private key (PEM, mode 600): the fleet file's signing.key. */
  key: string;
  /** Its public key (PEM). */
  pub: string;
}

/**
 * Writes `<dir>/<name>.key` (600) and `<dir>/<name>.pub` unless they exist (a kept key signs
 * sets that later runs read again); returns their paths.
 */
export function writeSigningKeySync(dir: string, name = 'signing'): SigningFiles {
  const files = { key: join(dir, `${name}.key`), pub: join(dir, `${name}.pub`) };
  if (existsSync(files.key) && existsSync(files.pub)) return files;
  mkdirSync(dir, { recursive: true });
  const pair = generateSigningKeyPair();
  writeFileSync(files.key, pair.privatePem, { mode: 0o600 });
  chmodSync(files.key, 0o600);
  writeFileSync(files.pub, pair.publicPem, { mode: 0o644 });
  return files;
}

/** The fleet file's `signing:` block for a key written by writeSigningKeySync. */
export const signingBlock = (files: SigningFiles, trusted: string[] = []) => ({ key: files.key, trusted });

/** The key in a private key file. */
export const signingKeyAt = (keyFile: string): SigningKey => parseSigningKey(readFileSync(keyFile), keyFile);

let processKey: SigningKey | undefined;
/** One key for the tests of this process that sign without a fleet (publishManifest and the like). */
export function testSigningKey(): SigningKey {
  return (processKey ??= parseSigningKey(generateSigningKeyPair().privatePem, 'test key'));
}

/** Trust in `keys` (default the process's test key). */
export function trustOf(...keys: SigningKey[]): SetTrust {
  const all = keys.length ? keys : [testSigningKey()];
  return { keys: new Map(all.map((k) => [k.keyId, k.publicKey])) };
}

/** Writes `m` as the coordinator does: its signature, then its bytes; returns the manifest's sha256. */
export async function writeSignedManifest(destination: Destination, m: Manifest, key: SigningKey = testSigningKey(), indent = 1): Promise<string> {
  const body = JSON.stringify(m, null, indent) + '\n';
  await destination.writeAtomic(manifestSignaturePath(m.id), signatureFor(key, 'manifest.json', body));
  await destination.writeAtomic(manifestPath(m.id), body);
  return manifestDigest(body);
}

/**
 * Signs again the manifest.json of set `id` in a local destination folder `destDir`, as it is now
 * (after a test edited it), with the private key in `keyFile` (the fleet's signing.key).
 */
export function resignManifest(destDir: string, id: string, keyFile: string): void {
  const body = readFileSync(join(destDir, manifestPath(id)));
  writeFileSync(join(destDir, manifestSignaturePath(id)), signatureFor(signingKeyAt(keyFile), 'manifest.json', body));
}

/** The signing.key of a fleet file (JSON, as the test helpers write them). */
export const fleetSigningKey = (fleetFile: string): string => (JSON.parse(readFileSync(fleetFile, 'utf8')) as { signing: { key: string } }).signing.key;

/** The coordinator's Signing for the process's test key: what signs set keys and what checks them. */
export function testSigning(): Signing {
  const key = testSigningKey();
  return { key, trusted: new Map([[key.keyId, key.publicKey]]) };
}
