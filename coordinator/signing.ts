/**
 * The coordinator's signing key and the public keys it trusts, from the fleet file's `signing:`
 * block. The private key never leaves the coordinator's host (agents do not have it), so nothing
 * an agent or anyone else with write access to the destination puts there is taken for a set.
 * The signing key's own public key is trusted implicitly; older keys stay in `trusted` after a
 * rotation until the sets they signed are gone.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, errorMessage } from '../shared/errors';
import { keyIdOf, parsePublicKey, parseSigningKey, type SigningKey, type TrustedKeys } from '../shared/signing';
import type { SetTrust } from './sets/trust';
import type { FleetConfig } from './config';

/** What signs new files and what checks the ones read back. */
export interface Signing {
  key: SigningKey;
  trusted: TrustedKeys;
}

const loaded = new Map<string, Signing>();

/** The fleet's signing key and trusted keys, read once per process; ConfigError saying what to fix. */
export function signingOf(fleet: Pick<FleetConfig, 'signing'>): Signing {
  const cacheKey = JSON.stringify(fleet.signing);
  let s = loaded.get(cacheKey);
  if (!s) loaded.set(cacheKey, (s = loadSigning(fleet.signing)));
  return s;
}

/** The trusted public keys alone, for the verbs that only read. */
export const trustedKeysOf = (fleet: Pick<FleetConfig, 'signing'>): TrustedKeys => signingOf(fleet).trusted;

/** What every reader of the fleet's destination checks sets with. */
export const setTrustOf = (fleet: Pick<FleetConfig, 'signing'>): SetTrust => ({ keys: trustedKeysOf(fleet) });

function loadSigning(c: FleetConfig['signing']): Signing {
  const key = parseSigningKey(readKeyFile(c.key, true), `signing.key ${c.key}`);
  const trusted = new Map([[key.keyId, key.publicKey]]);
  for (const path of c.trusted) {
    const pub = parsePublicKey(readKeyFile(path, false), `signing.trusted ${path}`);
    trusted.set(keyIdOf(pub), pub);
  }
  return { key, trusted };
}

/** A key file's bytes; a private key readable by group or others is refused, as ssh refuses one. */
function readKeyFile(path: string, secret: boolean): Buffer {
  try {
    if (secret) {
      const mode = statSync(path).mode & 0o777;
      if (mode & 0o077) throw new ConfigError(`signing.key ${path} has mode ${mode.toString(8).padStart(4, '0')}: anyone who reads it can sign sets; run chmod 600 ${path}`);
    }
    return readFileSync(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read ${secret ? 'signing.key' : 'signing.trusted'} ${path}: ${errorMessage(err)}; create the key pair with 'tandem certs signing --dir DIR'`);
  }
}
