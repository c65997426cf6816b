/** How an encrypted set names its stored files: one owner for the suffix. */

/** The suffix of every stored file of an encrypted set. */
export const AGE_SUFFIX = '.age';

/** Where the file a role names `plainPath` is stored in an encrypted set. */
export const storedPath = (plainPath: string): string => plainPath + AGE_SUFFIX;
