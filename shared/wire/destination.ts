/**
 * The destination as the protocol carries it, converted to and from the validated config. What
 * arrives is parsed by the same schema as the YAML file, so an agent accepts nothing that a
 * fleet file could not say.
 */
import { destinationConfigSchema, type DestinationConfig } from '../destination/config';
import { firstIssue, ValidationError } from '../errors';
import type { Destination } from '../generated/tandem/v2/agent';

/** The message of a destination config: an S3 one without its credentials (see withoutCredentials). */
export function toWireDestination(d: DestinationConfig): Destination {
  switch (d.type) {
    case 'local':
      return { kind: { $case: 'local', value: { path: d.path } } };
    case 'rsync':
      return {
        kind: {
          $case: 'rsync',
          value: {
            host: d.host, user: d.user, port: d.port, path: d.path, identityFile: d.identityFile, knownHostsFile: d.knownHostsFile,
            bwlimitKbps: d.bwlimitKBps, ioTimeoutSeconds: d.ioTimeoutSeconds,
          },
        },
      };
    case 's3':
      return {
        kind: {
          $case: 's3',
          value: {
            // No keys and no variable names: the message has no field for them (each agent reads its own).
            endpoint: d.endpoint, bucket: d.bucket, prefix: d.prefix, region: d.region,
            forcePathStyle: d.forcePathStyle, queueSize: d.queueSize, partSizeMib: d.partSizeMiB,
          },
        },
      };
  }
}

/** Drops the fields a message leaves unset, so the schema's own defaults and checks apply. */
export const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** The validated config of a destination message; throws ValidationError naming the field. */
export function fromWireDestination(m: Destination | undefined, where = 'destination'): DestinationConfig {
  const k = m?.kind;
  if (!k) throw new ValidationError(`${where}: missing (local, rsync or s3)`);
  let input: Record<string, unknown>;
  if (k.$case === 'local') input = { type: 'local', path: k.value.path };
  else if (k.$case === 'rsync') {
    const { bwlimitKbps, ...v } = k.value;
    input = { type: 'rsync', ...defined({ ...v, bwlimitKBps: bwlimitKbps }) };
  } else {
    const { partSizeMib, ...v } = k.value;
    input = { type: 's3', ...defined({ ...v, partSizeMiB: partSizeMib }) };
  }
  const r = destinationConfigSchema.safeParse(input);
  if (!r.success) throw new ValidationError(firstIssue(r.error, where));
  return r.data;
}
