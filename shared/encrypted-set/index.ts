/**
 * Encrypted backup sets: every file a role stores is an age file under its plain name + `.age`,
 * encrypted to the set's own recipient, which the signed manifest records (options.setRecipient).
 */
export { AGE_SUFFIX, storedPath } from './names';
export { attachmentSource, OpenedDestination, restoreDestination } from './opened';
