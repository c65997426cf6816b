/**
 * The identity a restore, a drill or a verify of content sends the agents for an encrypted set:
 * the set's own key, opened here with the operator's identity file (`--identity FILE`, else the
 * fleet file's `encryption.identity`, mode 600 checked) and checked against the recipient the
 * signed manifest records, so that a set-key.age swapped at the destination is refused.
 */
import type { Destination } from '../../shared/destination';
import type { Manifest } from '../../shared/manifest';
import type { EncryptionConfig } from './config';
import { SetKeyError } from './errors';
import { loadIdentityFile } from './identity-file';
import { openStoredSetKey } from './store';

/**
 * The set identity (AGE-SECRET-KEY-1…) of `manifest`'s set, or '' for a set written in clear.
 * SetKeyError when no identity file is given, SetKeyNoMatchError (naming the recipients the set
 * key is sealed to) when the file opens none of them.
 */
export async function setIdentityFor(dest: Destination, manifest: Manifest, encryption: EncryptionConfig, identityFlag?: string): Promise<string> {
  const recipient = manifest.options.setRecipient;
  if (!recipient) return '';
  const file = identityFlag ?? (encryption.mode === 'age' ? encryption.identity : undefined);
  if (!file) throw new SetKeyError(`backup set ${manifest.id} is encrypted: give --identity FILE (an age identity file of one of the fleet's recipients), or set encryption.identity in the fleet file`, { backupId: manifest.id });
  const identity = await openStoredSetKey(dest, manifest.id, await loadIdentityFile(file));
  // The manifest is signed, set-key.age is not (a rotation rewrites it): this is what ties them.
  if (identity.recipient.toString() !== recipient) {
    throw new SetKeyError(`the set key at ${dest.describe()} of backup set ${manifest.id} is for ${identity.recipient.toString()}, but the set's signed manifest says its files are encrypted to ${recipient}: set-key.age was replaced; restore it from a copy of the destination`, { backupId: manifest.id });
  }
  return identity.toString();
}
