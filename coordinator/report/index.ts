/**
 * Run reports: a backup set's or a restore's timeline as a self-contained HTML page (and its SVG
 * alone), written where the operator says. Shared by `tandem report`, `restore --report` and
 * `drill --report`.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { TandemError, errorMessage } from '../../shared/errors';
import { renderHtml } from './html';
import type { ReportModel } from './model';
import { renderSvg } from './svg';

export { backupModel } from './backup-model';
export { restoreModel } from './restore-model';
export type { ReportModel } from './model';

/** Where a report goes: an HTML page, an SVG, or both. */
export interface ReportFiles {
  html?: string;
  svg?: string;
}

/** Writes the report's files, each whole or not at all (a temporary file renamed into place). */
export async function writeReport(model: ReportModel, files: ReportFiles): Promise<string[]> {
  const out: [string, string][] = [];
  if (files.html) out.push([files.html, renderHtml(model)]);
  if (files.svg) out.push([files.svg, `<?xml version="1.0" encoding="UTF-8"?>\n${renderSvg(model).text}\n`]);
  for (const [file, body] of out) {
    const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
    try {
      await writeFile(tmp, body, { mode: 0o644 });
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new TandemError(`cannot write the report to ${file}: ${errorMessage(err)}; name a file in a folder that exists and that you can write`);
    }
  }
  return out.map(([f]) => f);
}
