/**
 * age recipients in a configuration file: the fleet file's `encryption.recipients` and an agent's
 * `roles.cassandra.capture.recipients` (the commitlog capture encrypts on its own, without the
 * coordinator) are read the same way.
 */
import { z } from 'zod';
import { parseRecipient } from '../age';
import { errorMessage } from '../errors';

/** An age1… recipient, normalised to the text age-keygen prints (Bech32 in lower case). */
export const recipientText = z.string().transform((text, ctx) => {
  try {
    return parseRecipient(text).toString();
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    return z.NEVER;
  }
});

/** One or more distinct recipients: a repeated key would only make every header longer. */
export const recipientList = z
  .array(recipientText)
  .min(1, 'give at least one age1… recipient (e.g. an operations key and an offline recovery key)')
  .refine((r) => new Set(r).size === r.length, 'recipients must be distinct');

