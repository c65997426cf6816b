/**
 * Keys of encrypted backup sets: the fleet's `encryption` section, per-set keys sealed to the
 * fleet's recipients and stored with the set, identity files, and rotation.
 */
export { rotateCaptureKeys, type CaptureKeyOutcome } from './capture-keys';
export { encryptionConfigSchema, recipientList, recipientText, type AgeEncryptionConfig, type EncryptionConfig } from './config';
export { IdentityFileModeError, SetKeyError, SetKeyNoMatchError } from './errors';
export { IDENTITY_FILE_NAME, loadIdentityFile, writeNewIdentityFile } from './identity-file';
export { SET_KEY_FORMAT, SET_KEY_MAX_BYTES, setKeyInfoSchema, type SetKeyInfo } from './layout';
export { needsReseal, rotateSetKeys, type RotationOptions, type RotationOutcome } from './rotate';
export { makeSetKey, openSetKey, reseal, sameRecipients, type SealedContext, type SetKey } from './set-key';
export { openStoredSetKey, readSetKey, readSetKeys, setKeyInfo, writeSetKey, type SetKeyState } from './store';
