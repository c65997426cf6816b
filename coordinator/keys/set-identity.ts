/**
 * The identity a restore, a drill or a verify of content sends the agents for an encrypted set:
 * the set's own key, opened here with the operator's identity file (`--identity FILE`, else the
 * fleet file's `encryption.identity`, mode 600 checked) and checked against the recipient the
 * signed manifest records, so that a set-key.age swapped at the destination is refused.
 */
import type { Destination } from '../../shared/destination';
import { nodesWith, type Manifest } from '../../shared/manifest';
import type { EncryptionConfig } from './config';
import { SetKeyError } from './errors';
import { loadIdentityFile } from './identity-file';
import { openStoredSetKey } from './store';

/**
 * The set identities (AGE-SECRET-KEY-1…) a restore of `manifest`'s set needs: its own first, then
 * those of the earlier sets whose files it references (an incremental set's archives kept from
 * them are encrypted to their keys); [] for a set written in clear. SetKeyError when no identity
 * file is given, SetKeyNoMatchError (naming the recipients a set key is sealed to) when the file
 * opens none of them.
 */
export async function setIdentitiesFor(dest: Destination, manifest: Manifest, encryption: EncryptionConfig, identityFlag?: string): Promise<string[]> {
  const recipient = manifest.options.setRecipient;
  if (!recipient) return [];
  const file = identityFlag ?? (encryption.mode === 'age' ? encryption.identity : undefined);
  if (!file) throw new SetKeyError(`backup set ${manifest.id} is encrypted: give --identity FILE (an age identity file of one of the fleet's recipients), or set encryption.identity in the fleet file`, { backupId: manifest.id });
  const fleetIdentities = await loadIdentityFile(file);
  const identity = await openStoredSetKey(dest, manifest.id, fleetIdentities);
  // The manifest is signed, set-key.age is not (a rotation rewrites it): this is what ties them.
  if (identity.recipient.toString() !== recipient) {
    throw new SetKeyError(`the set key at ${dest.describe()} of backup set ${manifest.id} is for ${identity.recipient.toString()}, but the set's signed manifest says its files are encrypted to ${recipient}: set-key.age was replaced; restore it from a copy of the destination`, { backupId: manifest.id });
  }
  // The referenced files' ciphertexts are bound by this set's manifest (sha256): whichever key opens them, their bytes are the ones backed up.
  // So are the attachments kept from earlier sets, which the files part names (storedIn): their listing entries carry the ciphertext's digest.
  const kept = nodesWith(manifest, 'files').flatMap((n) => n.parts.files.storedIn ?? []);
  const earlier = [...new Set([...manifest.references.map((r) => r.set), ...kept])].filter((id) => id !== manifest.id);
  const others = await Promise.all(earlier.map((id) => openStoredSetKey(dest, id, fleetIdentities)));
  return [identity, ...others].map((i) => i.toString());
}
