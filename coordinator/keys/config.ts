/**
 * The fleet file's `encryption` section: `mode: none` (sets land in clear, as before), or
 * `mode: age` with the public keys every set key is sealed to and, for the verbs that read
 * encrypted content, the identity file that opens them.
 */
import { z } from 'zod';
import { absolutePath } from '../../shared/config/common';
import { recipientList } from '../../shared/config/recipients';

export { recipientList, recipientText } from '../../shared/config/recipients';

/** Backup sets land in clear. */
const noEncryption = z.strictObject({ mode: z.literal('none') });

/** Every set is encrypted in the age format to a key of its own, sealed to `recipients`. */
const ageEncryption = z.strictObject({
  mode: z.literal('age'),
  /** Public keys (age1…) each set key is sealed to; any one of their identities opens every set. */
  recipients: recipientList,
  /** An age identity file (AGE-SECRET-KEY-1… lines, mode 0600) opening the sets; needed only to read content (rotate, verify of content, restore, drill). */
  identity: absolutePath.optional(),
});

/** The `encryption` section; default `{ mode: none }`, so fleet files written before it keep working. */
export const encryptionConfigSchema = z.discriminatedUnion('mode', [noEncryption, ageEncryption]).default({ mode: 'none' });

/** The validated `encryption` section. */
export type EncryptionConfig = z.output<typeof encryptionConfigSchema>;
/** The `mode: age` form of it. */
export type AgeEncryptionConfig = Extract<EncryptionConfig, { mode: 'age' }>;
