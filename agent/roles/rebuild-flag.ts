/**
 * TheHive's index rebuild, applied when the operator asks for it: TheHive drops and rebuilds its
 * Elasticsearch index from Cassandra at its next start when application.conf sets
 * `db.janusgraph.forceDropAndRebuildIndex = true`. tandem appends that setting in a block marked
 * with the restore id (HOCON: a later key wins over an earlier one), written atomically with the
 * file's owner and mode kept. The block must go once TheHive has started, or every start rebuilds.
 */
import { access, chown, constants, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { PreconditionError, TandemError } from '../../shared/errors';
import { hoconGet, parseHocon } from './hocon';

/** The setting TheHive reads at start. */
export const REBUILD_KEY = 'db.janusgraph.forceDropAndRebuildIndex';
const BEGIN = '# >>> tandem';
const END = '# <<< tandem';

/** Fails early (before anything is restored) when the file cannot take the flag. */
export async function checkRebuildFlagWritable(conf: string | undefined): Promise<void> {
  if (!conf) throw new PreconditionError('--rebuild-index needs roles.elasticsearch.theHiveConfig: the path of TheHive\'s application.conf on this host');
  await access(conf, constants.R_OK | constants.W_OK).catch(() => {
    throw new PreconditionError(`--rebuild-index: ${conf} is not writable by the agent; add the setting ${REBUILD_KEY} = true by hand instead`);
  });
}

/** The text with tandem's block (re)placed at its end. */
export function withRebuildBlock(text: string, restoreId: string): string {
  const body = withoutRebuildBlock(text).replace(/\n*$/, '\n');
  return `${body}\n${BEGIN} restore ${restoreId}: rebuild the index at the next start; remove this block once TheHive has started\n${REBUILD_KEY} = true\n${END}\n`;
}

/** The text without tandem's block. */
export function withoutRebuildBlock(text: string): string {
  return text.replace(new RegExp(`\\n?${BEGIN}[^\\n]*\\n[\\s\\S]*?${END}\\n?`, 'g'), '');
}

/** Adds the flag to application.conf; `added` is false when the same restore already added it. */
export async function addRebuildFlag(conf: string, restoreId: string): Promise<{ file: string; added: boolean }> {
  const text = await readFile(conf, 'utf8');
  const next = withRebuildBlock(text, restoreId);
  if (next === text) return { file: conf, added: false };
  // Read back as TheHive will: the setting must resolve to true, whatever the file said before.
  if (hoconGet(parseHocon(next, {}), REBUILD_KEY) !== 'true') {
    throw new TandemError(`${conf}: ${REBUILD_KEY} does not read as true after adding it (an include or substitution overrides it?); set it by hand`);
  }
  const st = await stat(conf);
  const tmp = `${conf}.tandem-${restoreId}.tmp`;
  try {
    await writeFile(tmp, next, { mode: st.mode & 0o7777 });
    if (typeof process.getuid === 'function' && process.getuid() === 0) await chown(tmp, st.uid, st.gid);
    await rename(tmp, conf);
  } catch (err) {
    // Beside TheHive's own configuration: a failed write leaves nothing there.
    await rm(tmp, { force: true });
    throw err;
  }
  return { file: conf, added: true };
}
