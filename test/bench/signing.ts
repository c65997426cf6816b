/**
 * What signing and checking a set cost: signing is over the manifest's bytes only (and a
 * pruned marker's), checking reads one signature file beside it. Times Ed25519 sign and check
 * of manifests from a small set's size to the 16 MiB cap, median of `runs`. Needs no sandbox;
 * compare the figures with a backup's and a verify's wall time on the 1 GB set (`npm run bench`).
 */
import { checkSignature, generateSigningKeyPair, MANIFEST_MAX_BYTES, parseSigningKey, signatureFor } from '../../shared/signing';

/** One row of the report. */
export interface SigningBenchRow {
  bytes: number;
  signMs: number;
  checkMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Sign and check of manifest-like bodies of each size, `runs` times each. */
export function benchSigning(runs = 20, sizes = [64 << 10, 1 << 20, 4 << 20, MANIFEST_MAX_BYTES]): SigningBenchRow[] {
  const key = parseSigningKey(generateSigningKeyPair().privatePem, 'bench');
  const trusted = new Map([[key.keyId, key.publicKey]]);
  return sizes.map((bytes) => {
    // JSON-like bytes: what a manifest holds does not change the cost, only its length.
    const body = Buffer.alloc(bytes, '{"path":"set/node/cassandra/thehive/table.tbz","size":1,"sha256":"0"},');
    const sign: number[] = [];
    const check: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = process.hrtime.bigint();
      const sig = Buffer.from(signatureFor(key, 'manifest.json', body));
      sign.push(ms(t0));
      t0 = process.hrtime.bigint();
      if (!checkSignature(sig, 'manifest.json', body, trusted).ok) throw new Error('the signature did not check');
      check.push(ms(t0));
    }
    return { bytes, signMs: median(sign), checkMs: median(check) };
  });
}

/** Prints the table. */
export function printSigning(rows: SigningBenchRow[]): void {
  console.log('Ed25519 over a manifest: sign (once per backup) and check (per set read: list, prune, parent choice, restore, verify)');
  for (const r of rows) console.log(`  manifest ${(r.bytes / 1048576).toFixed(2).padStart(6)} MiB   sign ${r.signMs.toFixed(2).padStart(7)} ms   check ${r.checkMs.toFixed(2).padStart(7)} ms`);
}
