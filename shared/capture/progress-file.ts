/**
 * A capture's progress file in the agent's state folder, written durably (shared/durable-file):
 * after save() returns, a crash still finds it. A file that does not parse or does not match its
 * schema is a ConfigError saying how to start afresh, never a silent new start.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { writeFileDurably } from '../durable-file';
import { ConfigError } from '../errors';

/** One progress file: its schema, what it holds before the first save, and what starting afresh costs (for the operator). */
export class ProgressFile<S extends z.ZodType> {
  constructor(readonly file: string, private readonly schema: S, private readonly empty: () => z.output<S>, private readonly afresh: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  }

  /** The recorded progress, or the empty one when there is no file yet. */
  load(): z.output<S> {
    if (!existsSync(this.file)) return this.empty();
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${this.file} is not JSON (${(err as Error).message}): move it aside to start the capture afresh (${this.afresh})`);
    }
    const r = this.schema.safeParse(parsed);
    if (!r.success) throw new ConfigError(`${this.file} is not a capture progress file (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}): move it aside to start the capture afresh (${this.afresh})`);
    return r.data;
  }

  /** Records `p` durably. */
  save(p: z.output<S>): void {
    writeFileDurably(this.file, `${JSON.stringify(p)}\n`);
  }
}
