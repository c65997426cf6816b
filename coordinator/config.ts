/**
 * The coordinator's fleet file (YAML): the agents, the destination, backup defaults.
 * Default location: /etc/tandem/fleet.yaml.
 */
import { statSync } from 'node:fs';
import { z } from 'zod';
import { absolutePath, hostPort, millis, nodeName, tlsFiles } from '../shared/config/common';
import { loadYamlConfig } from '../shared/config/load';
import { COMPRESSIONS, ROLE_NAMES } from '../shared/contract';
import { destinationConfigSchema } from '../shared/destination';
import { fleetBackupOptionsSchema } from '../shared/wire/backup-options';
import { encryptionConfigSchema } from './keys/config';
import { hasRule, retentionPolicySchema } from './retention/policy';

// rehearsal: the protocol's test role, which only the tests' agent (test/helpers/agent-main.ts) plays.
const roleName = z.enum([...ROLE_NAMES, 'rehearsal']);

/** One agent of the fleet. */
const agentEntry = z.strictObject({
  /** The agent's node name; its certificate must carry this name. */
  node: nodeName,
  /** host:port of the agent's gRPC server. */
  address: hostPort,
  /** Roles the agent is expected to have; checked against what it announces. */
  roles: z.array(roleName).min(1),
});

/** The fleet configuration schema. */
export const fleetConfigSchema = z.strictObject({
  /** The fleet's name in metrics (label fleet); default the fleet file's name without its extension. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . or -').optional(),
  /** The coordinator's client certificate, key and the fleet CA; required unless --insecure. */
  tls: tlsFiles.optional(),
  agents: z
    .array(agentEntry)
    .min(1)
    .refine((a) => new Set(a.map((x) => x.node)).size === a.length, 'node names must be unique'),
  /** Where backup sets are written. */
  destination: destinationConfigSchema,
  /**
   * The key that signs every set's manifest and marker, and the public keys whose signatures are
   * believed (the key's own is implicitly): anything at the destination without a trusted
   * signature is never used. Make the pair with `tandem certs signing --dir DIR`.
   */
  signing: z.strictObject({
    /** The Ed25519 private key (PEM, mode 600). */
    key: absolutePath,
    /** Public keys (PEM) of earlier signing keys whose sets are still trusted; default none. */
    trusted: z.array(absolutePath).max(64).default([]),
  }, { error: (iss) => (iss.input === undefined ? "required since sets are signed: make the key with 'tandem certs signing --dir /etc/tandem/signing' and add signing: {key: /etc/tandem/signing/signing.key}" : undefined) }),
  backup: z
    .strictObject({
      /** Compression of Cassandra table archives: bzip2 (.tbz, default), xz or none. */
      compression: z.enum(COMPRESSIONS).default('bzip2'),
      /** Lifetime of a prepared state without Commit or Abort, ms; default 120000. */
      leaseMs: millis(1000, 3_600_000).default(120_000),
      /** Deadline of Prepare (checks and set-up) on every agent, ms; default 90000. */
      prepareTimeoutMs: millis(1000, 3_600_000).default(90_000),
      /** Deadline of Commit, ms; default 30000. */
      commitTimeoutMs: millis(100, 600_000).default(30_000),
      /** Deadline of Abort, ms; default 60000. */
      abortTimeoutMs: millis(100, 600_000).default(60_000),
      /** Deadline for shipping every part, ms; default 6 h. */
      shipTimeoutMs: millis(1000, 7 * 86_400_000).default(6 * 3_600_000),
      /** Backup options for every run (repair, all_keyspaces, skip_index, allow_low_rf, keep_snapshot, allow_yellow: true/false). */
      options: fleetBackupOptionsSchema.default({}),
    })
    // A fast agent's lease runs while the coordinator still waits for the slowest vote: a lease
    // shorter than that wait expires before Commit can come, and every such backup aborts.
    .refine((b) => b.leaseMs >= b.prepareTimeoutMs, {
      message: 'leaseMs must be at least prepareTimeoutMs: a prepared agent\'s lease would expire while the coordinator still waits for the other votes',
      path: ['leaseMs'],
    })
    .prefault({}),
  /**
   * What `tandem prune` keeps (keep_last, keep_daily, keep_weekly, keep_monthly: counts, restic's
   * rules, days/weeks/months in UTC); any --keep-* flag replaces the whole block. Absent: prune
   * needs flags.
   */
  retention: retentionPolicySchema.refine(hasRule, 'give at least one of keep_last, keep_daily, keep_weekly, keep_monthly').optional(),
  /**
   * Encryption of backup sets: `{mode: none}` (default) or `{mode: age, recipients: [age1…, …],
   * identity?: /path/to/identity.txt}`; see docs/encryption.md.
   */
  encryption: encryptionConfigSchema,
  /** Folder for the coordinator's own state: backup.lock while `tandem backup` runs; default /var/lib/tandem. */
  stateDir: absolutePath.default('/var/lib/tandem'),
});

/** The validated fleet configuration. */
export type FleetConfig = z.output<typeof fleetConfigSchema>;
/** One agent of the fleet. */
export type AgentEntry = FleetConfig['agents'][number];

/** Loads and validates a fleet file. */
export function loadFleetConfig(file: string): FleetConfig {
  return loadYamlConfig(file, fleetConfigSchema);
}

/**
 * A warning when the fleet file holds the S3 secret key literally and others than its owner can
 * read it; null otherwise. The key stays the coordinator's (it is never sent to an agent), so a
 * file only its owner reads is accepted without a word.
 */
export function literalSecretWarning(file: string, fleet: FleetConfig): string | null {
  const d = fleet.destination;
  if (d.type !== 's3' || d.secretAccessKey === undefined) return null;
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return null;
  }
  if (!(mode & 0o077)) return null;
  return `${file} holds destination.secretAccessKey literally and has mode ${mode.toString(8).padStart(4, '0')}: run chmod 600 ${file}, or name a variable with destination.secretAccessKeyEnv`;
}
