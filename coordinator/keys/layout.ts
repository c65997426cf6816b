/**
 * Where a backup set keeps its key: `<id>/set-key.age`, the set's age identity encrypted to the
 * fleet's recipients, and `<id>/set-key.json`, in clear, the recipients it is sealed to and the
 * sha256 of set-key.age. The age header does not name its recipients (an X25519 stanza carries
 * only an ephemeral share), so without set-key.json a refusal could not say which keys open a set.
 * Their paths are built by shared/destination/layout.ts (setKeyPath, setKeyInfoPath).
 */
import { z } from 'zod';
import { recipientList } from './config';

/** The format of set-key.json. */
export const SET_KEY_FORMAT = 'tandem.set-key/v1';

/** A sealed set key holds one identity file of a few lines: anything larger is not one. Bytes. */
export const SET_KEY_MAX_BYTES = 64 * 1024;

/** set-key.json, as written and as every reader parses it (it comes back from an untrusted destination). */
export const setKeyInfoSchema = z.strictObject({
  format: z.literal(SET_KEY_FORMAT),
  /** The age1… recipients set-key.age is sealed to, in the fleet file's order. */
  recipients: recipientList,
  /** sha256 of set-key.age, lowercase hex: tells a pair written together from one a rotation left half done. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
});

/** The content of set-key.json. */
export type SetKeyInfo = z.output<typeof setKeyInfoSchema>;
