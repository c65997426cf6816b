/** Every file under a folder, for tests that look at all of what a set stored. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file under `dir`, recursively (folders entered, everything else listed). */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}
