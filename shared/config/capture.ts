/**
 * Settings both continuous captures (the commitlog's, roles.cassandra.capture; the file store's,
 * roles.files.capture) take the same way: where they go, the cluster's name in their folder, and
 * the recipients they encrypt to.
 */
import { z } from 'zod';
import { destinationConfigSchema, S3_CREDENTIAL_FIELDS } from '../destination/config';
import { NODE_NAME } from '../names';
import { recipientList } from './recipients';

/** The cluster's name in the capture's folder at the destination (tandem_capture/<cluster>/<node>); default thehive. */
export const captureCluster = z.string().regex(NODE_NAME, { message: 'cluster must be a host-name-like label (letters, digits, "-")' }).default('thehive');

/** Where a capture goes: a destination as in the fleet file (local, rsync or s3; S3 keys from destinationCredentials). */
export const captureDestination = destinationConfigSchema.refine((d) => S3_CREDENTIAL_FIELDS.every((f) => !(f in d) || (d as Record<string, unknown>)[f] === undefined), {
  message: 'capture.destination takes no S3 keys: the agent reads its own from destinationCredentials (docs/destination.md)',
});

/**
 * The fleet's age recipients (encryption.recipients of the fleet file): when given, what the
 * capture stores is encrypted to a data key of the capture sealed to them, and this agent can
 * never read the capture back. Absent: stored in clear (signed all the same).
 */
export const captureRecipients = recipientList.optional();

/** The roles whose agents may capture continuously. */
export const CAPTURING_ROLES = ['cassandra', 'files'] as const;

/** Why a capture of `role` cannot run without the agent's tls files: its lines are signed with that key. */
export const captureNeedsTls = (role: (typeof CAPTURING_ROLES)[number]): string => `roles.${role}.capture signs what it stores with the agent's TLS key: set tls`;
