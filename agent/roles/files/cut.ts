/**
 * The cut of a folder store: Commit records its instant (`cut.json`) and starts the walk of the
 * folder (walk.ts) at that instant, entry by entry into workDir/cut.ndjson, without waiting for
 * it: a walk of a million files takes a minute or more, longer than a Commit may wait. Ship
 * awaits the walk, then copies from it knowing the totals. A walk is never instant; it sees the
 * folder as it is while it runs, as the listing inside Commit did before (TheHive only adds and
 * deletes attachments, never rewrites one). Trusted local state written by this agent, read back
 * by it alone.
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

/** What Commit records of a folder store: where and when. */
export interface FolderCutAt {
  store: 'localfs';
  location: string;
  cutAt: number;
}

/** A walk under way: its end, and who hears of each file it finds (ship's progress, once ship runs). */
export interface FolderWalk {
  done: Promise<FolderCut>;
  onFile: () => void;
}

/** Starts walking `at.location` into workDir/cut.ndjson; `done` gives the counts. */
export function startFolderWalk(at: FolderCutAt, workDir: string, signal: AbortSignal): FolderWalk {
  const walk: FolderWalk = { done: Promise.resolve(null as unknown as FolderCut), onFile: () => undefined };
  walk.done = walkFolderCut(at, workDir, signal, () => walk.onFile());
  // Awaited by ship; a walk whose backup was aborted before ship must not count as unhandled.
  walk.done.catch(() => undefined);
  return walk;
}

/** Walks `location` into workDir/cut.ndjson; returns the counts. `onFile` is called per file found (progress). */
async function walkFolderCut(at: FolderCutAt, workDir: string, signal: AbortSignal, onFile: () => void): Promise<FolderCut> {
  await fs.mkdir(workDir, { recursive: true });
  const cut: FolderCut = { ...at, files: 0, bytes: 0, dirs: 0 };
  const out = createWriteStream(entriesFile(workDir));
  try {
    for await (const e of walkFolder(at.location)) {
      signal.throwIfAborted();
      if ('file' in e) {
        onFile();
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
  return cut;
}

/** The cut's entries in listing order, read back from workDir/cut.ndjson. */
export async function* folderCutEntries(workDir: string): AsyncGenerator<WalkEntry> {
  const lines = createInterface({ input: createReadStream(entriesFile(workDir)), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as WalkEntry;
}
