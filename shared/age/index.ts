/**
 * The age v1 file format (c2sp.org/age) with X25519 recipients, on node:crypto alone. Files it
 * writes open with `age -d -i key.txt`, and files `age -e -r age1…` writes open here.
 */
export { decrypt, decryptStream, type DecryptOptions, type IdentityInput } from './decrypt';
export { encrypt, encryptStream, type RecipientInput } from './encrypt';
export { AgeError, AgeHeaderError, AgeHeaderMacError, AgeKeyError, AgeNoMatchError, AgePayloadError } from './errors';
export { formatIdentityFile, generateIdentity, parseIdentity, parseIdentityFile, parseRecipient, parseRecipientsFile, recipientOf } from './keys';
export { CHUNK_SIZE } from './stream';
export { X25519Identity, X25519Recipient } from './x25519';
