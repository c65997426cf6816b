/**
 * A keyspace replication given by the operator for a restore onto another topology (fewer nodes,
 * other datacenter names): `DC:RF[,DC:RF...]`, always NetworkTopologyStrategy.
 */
import { ValidationError } from './errors';

/** Parses the restore option `replication`, `DC:RF[,DC:RF...]`, into a NetworkTopologyStrategy map. */
export function parseReplicationOption(v: string): Record<string, string> {
  if (!/^[A-Za-z0-9_.-]+:\d{1,2}(,[A-Za-z0-9_.-]+:\d{1,2})*$/.test(v)) throw new ValidationError(`replication ${JSON.stringify(v)}: expected DC:RF[,DC:RF...], e.g. datacenter1:3`);
  const out: Record<string, string> = { class: 'org.apache.cassandra.locator.NetworkTopologyStrategy' };
  for (const pair of v.split(',')) {
    const [dc, rf] = pair.split(':');
    out[dc] = String(Number(rf));
  }
  return out;
}

