/**
 * age identity files on the coordinator's host: loading one (refused when its group or others
 * can read it, as ssh refuses a private key) and writing a new one that nothing else can read.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatIdentityFile, generateIdentity, parseIdentityFile, type X25519Identity } from '../../shared/age';
import { errorMessage } from '../../shared/errors';
import { IdentityFileModeError, SetKeyError } from './errors';

/** The name `tandem keys init` gives the identity file in its folder. */
export const IDENTITY_FILE_NAME = 'age-identity.txt';

/** The identities of an age identity file (age-keygen's format, one or more AGE-SECRET-KEY-1… lines). */
export async function loadIdentityFile(file: string): Promise<X25519Identity[]> {
  const st = await stat(file).catch((err: unknown) => {
    throw new SetKeyError(`cannot read identity file ${file} (${errorMessage(err)}): give the path of an age identity file (tandem keys init or age-keygen makes one)`, { file }, { cause: err });
  });
  if (!st.isFile()) throw new SetKeyError(`identity file ${file} is not a regular file: give the path of an age identity file`, { file });
  // A secret key that others can read is no longer a secret: refuse before reading it.
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new IdentityFileModeError(`identity file ${file} has mode ${mode}: its group or others can read it; run \`chmod 600 ${file}\` (and consider the key exposed if others did read it)`, { file, mode });
  }
  return parseIdentityFile(await readFile(file, 'utf8'), `identity file ${file}`);
}

/**
 * Makes a new identity and writes it to `<dir>/age-identity.txt` with mode 0600 (the folder is
 * created with mode 0700). Never replaces a file: a lost identity cannot open what was sealed to it.
 */
export async function writeNewIdentityFile(dir: string): Promise<{ file: string; recipient: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, IDENTITY_FILE_NAME);
  const identity = generateIdentity();
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new SetKeyError(`${file} exists: it may be the only copy of a key that opens backup sets; move it away yourself if you mean to replace it`, { file });
    throw new SetKeyError(`cannot create ${file}: ${errorMessage(err)}`, { file }, { cause: err });
  });
  try {
    await handle.writeFile(formatIdentityFile(identity));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { file, recipient: identity.recipient.toString() };
}
