/**
 * The compressors behind archives: external bzip2 programs (started through shared/exec.ts's
 * spawnProcess, from argv) and lzma-native for xz, plus the error bookkeeping shared by create
 * and extract.
 */
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { CommandError, TandemError } from '../../shared/errors';

/** Compression of an archive; 'none' is a plain .tar (shared/contract.ts lists them). */
export type { Compression } from '../../shared/contract';

/** bzip2 implementations, fastest first: lbzip2 and pbzip2 use every core, bzip2 one. */
export type Bzip2Program = 'lbzip2' | 'pbzip2' | 'bzip2';
const BZIP2_PROGRAMS: readonly Bzip2Program[] = ['lbzip2', 'pbzip2', 'bzip2'];

/** Default worker threads for compressors: the number of usable CPUs. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

const found = new Map<string, boolean>();

/** True when an executable of that name is on PATH (cached per process). */
export async function hasProgram(name: string): Promise<boolean> {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  let ok = false;
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, name), fsConstants.X_OK);
      ok = true;
      break;
    } catch {
      /* not in this directory */
    }
  }
  found.set(name, ok);
  return ok;
}

/** argv of the bzip2 filter (stdin to stdout); `prefer` forces a program, default the fastest installed. */
export async function bzip2Argv(mode: 'compress' | 'decompress', threads: number, prefer?: Bzip2Program): Promise<string[]> {
  let program = prefer;
  if (!program) {
    for (const p of BZIP2_PROGRAMS) {
      if (await hasProgram(p)) {
        program = p;
        break;
      }
    }
  }
  const d = mode === 'decompress' ? ['-d'] : [];
  const n = String(Math.max(1, Math.floor(threads)));
  switch (program) {
    case 'lbzip2':
      return ['lbzip2', ...d, '-n', n, '-c'];
    case 'pbzip2':
      return ['pbzip2', ...d, `-p${n}`, '-c'];
    case 'bzip2':
      return ['bzip2', ...d, '-c'];
    default:
      throw new CommandError(['bzip2'], null, null, '', 'no bzip2 program found on PATH (install lbzip2, pbzip2 or bzip2)');
  }
}

interface LzmaModule {
  createStream(kind: string, options?: Record<string, unknown>): Duplex;
  PRESET_DEFAULT: number;
  CONCATENATED: number;
}
let lzmaModule: LzmaModule | undefined;
function lzma(): LzmaModule {
  // Loaded lazily: the native binding is only needed for xz, and the package ships no types.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  lzmaModule ??= require('lzma-native') as LzmaModule;
  return lzmaModule;
}

/** xz encoder; `threads` > 1 uses liblzma's multithreaded encoder (independent blocks), preset default 6. */
export function xzEncoder(threads: number, preset?: number): Duplex {
  const l = lzma();
  return l.createStream('easyEncoder', { preset: preset ?? l.PRESET_DEFAULT, threads: Math.max(1, Math.floor(threads)) });
}

/** xz decoder accepting concatenated streams, like `xz -d`. */
export function xzDecoder(): Duplex {
  return lzma().createStream('streamDecoder', { flags: lzma().CONCATENATED });
}

/** The error thrown when an operation is aborted through its AbortSignal. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(typeof reason === 'string' ? reason : 'This operation was aborted', 'AbortError');
}

/**
 * Picks the error to report out of everything that failed: the caller's abort first; then a filter
 * program that exited non-zero on its own, unless our own check (a TandemError) came first, since
 * EPIPE, premature close or "unexpected end of data" are only echoes of it; else the first failure,
 * which is what tore the rest down.
 */
export function pickError(failures: unknown[], signal?: AbortSignal): unknown {
  if (signal?.aborted) return abortError(signal);
  const first = failures[0];
  if (!(first instanceof TandemError)) {
    const own = failures.find((f) => f instanceof CommandError && f.exitCode !== null);
    if (own) return own;
  }
  return first;
}

/** Concurrent steps that fail together: the first failure aborts the others, as does the caller's signal. */
export interface FailureGroup {
  /** Aborted on the first failure or when the caller's signal aborts. */
  ac: AbortController;
  /** Every failure, in order. */
  failures: unknown[];
  /** Records a failure and aborts the group. */
  fail(e: unknown): void;
  /** Wraps a step so that its failure is recorded instead of thrown. */
  guard(p: Promise<unknown>): Promise<unknown>;
  /** Stops following the caller's signal. */
  dispose(): void;
}

/** A new failure group following the caller's signal. */
export function failureGroup(signal?: AbortSignal): FailureGroup {
  const ac = new AbortController();
  const failures: unknown[] = [];
  const fail = (e: unknown) => {
    failures.push(e);
    ac.abort(e);
  };
  const onAbort = () => ac.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return { ac, failures, fail, guard: (p) => p.catch(fail), dispose: () => signal?.removeEventListener('abort', onAbort) };
}
