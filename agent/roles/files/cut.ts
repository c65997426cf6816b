/**
 * The cut of a folder store, taken at Commit and kept in the backup's workDir until ship: the walk
 * (walk.ts) written entry by entry to `cut.ndjson`, then its counts to `cut.json`, whose presence
 * says the walk is complete (a Commit retried after a crash walks again). Trusted local state
 * written by this agent, read back by it alone.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { walkFolder, type WalkEntry } from './walk';

/** What cut.json records of a folder cut. */
export interface FolderCut {
  store: 'localfs';
  location: string;
  cutAt: number;
  /** Regular files of the cut, and their bytes. */
  files: number;
  bytes: number;
  dirs: number;
}

const entriesFile = (workDir: string) => join(workDir, 'cut.ndjson');

/** Walks `location` into workDir/cut.ndjson; returns the counts, also written to workDir/cut.json. */
export async function takeFolderCut(location: string, workDir: string): Promise<FolderCut> {
  await fs.mkdir(workDir, { recursive: true });
  const cut: FolderCut = { store: 'localfs', location, cutAt: Date.now(), files: 0, bytes: 0, dirs: 0 };
  const out = createWriteStream(entriesFile(workDir));
  try {
    for await (const e of walkFolder(location)) {
      if ('file' in e) {
        cut.files++;
        cut.bytes += e.file.size;
      } else if ('dir' in e) cut.dirs++;
      if (!out.write(JSON.stringify(e) + '\n')) await once(out, 'drain');
    }
    out.end();
    await finished(out);
  } catch (err) {
    out.destroy();
    throw err;
  }
  const tmp = join(workDir, 'cut.json.partial');
  await fs.writeFile(tmp, JSON.stringify(cut));
  await fs.rename(tmp, join(workDir, 'cut.json'));
  return cut;
}

/** The cut's entries in listing order, read back from workDir/cut.ndjson. */
export async function* folderCutEntries(workDir: string): AsyncGenerator<WalkEntry> {
  const lines = createInterface({ input: createReadStream(entriesFile(workDir)), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as WalkEntry;
}
