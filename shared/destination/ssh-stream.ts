/**
 * Streams to and from the backup host over one ssh connection each, with no copy on local disk.
 *
 * Upload: the remote side runs `cat` into a hidden temporary name beside the final one, then
 * renames it. ssh cannot tell the remote side why its stdin ended: a killed client, a dropped
 * connection and a finished stream all look like end-of-file to `cat`. So the stream is followed
 * by an end marker, 64 random hex characters chosen for this upload and named in the remote
 * command; the file is renamed only when its last 64 bytes are that marker (they are then cut
 * off), and the temporary is removed otherwise, by the remote side itself, even when this
 * process died. The file is flushed with `sync FILE` (coreutils ≥ 8.24; older ones flush every
 * file system, which is slower and as safe) before the rename, so a crash of the backup host
 * never leaves a torn archive under its final name.
 *
 * Download: `tail -c +N` from the byte where a broken connection stopped, so a restore resumes
 * instead of starting a multi-GB archive again.
 *
 * Every remote word is single-quoted (shQuote) on top of the strict path validation; locally,
 * ssh runs from an argv through the command runner. Needs GNU coreutils on the backup host.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CommandError, NotFoundError, TransferInterruptedError, ValidationError } from '../errors';
import type { ProcessSpawner, RunningProcess } from '../exec';

/** Bytes of the end marker that closes an uploaded stream. */
export const END_MARKER_BYTES = 64;
/** Remote exit code: the upload failed on the backup host (disk full, permissions); its temporary is removed. */
export const EXIT_PUT_FAILED = 86;
/** Remote exit code: the stream ended without its end marker (cut short); its temporary is removed. */
export const EXIT_PUT_CUT_SHORT = 87;
/** Remote exit code: the file to download does not exist. */
export const EXIT_GET_ABSENT = 44;
/** Exit status of a remote command that found a symbolic link on its path below the root. */
export const EXIT_LINK = 76;
const LINK_SAID = 'tandem-link: ';

/**
 * Shell words, to run before a remote command on `rel`, that stop it (exit EXIT_LINK, naming the
 * path on stderr) when the root's child on that path, or any folder or file below it down to
 * `rel` itself, is a symbolic link: someone else who can write the backup host must not get a
 * mkdir, cat, tail, rm or ln of the agents' to work through one. The root itself may be a link
 * (the operator's). A check, then the command: a link swapped in between is the limit of a shell
 * on the far side (the local destination works on opened folders instead).
 */
export function linkGuard(root: string, rel: string): string[] {
  const parts = rel.split('/').filter(Boolean);
  if (!parts.length) return [];
  const paths = parts.map((_, i) => `${root.replace(/\/+$/, '')}/${parts.slice(0, i + 1).join('/')}`);
  return ['for', 'p', 'in', ...paths.map(shQuote), ';', 'do', 'if', 'test', '-L', '"$p"', ';', 'then', 'echo', `"${LINK_SAID}$p"`, '>&2', ';', 'exit', String(EXIT_LINK), ';', 'fi', ';', 'done', ';'];
}

/** The refusal of a remote command that met a link (EXIT_LINK); other errors are returned as they are. */
export function linkRefusal(err: unknown, where: string): unknown {
  if (!(err instanceof CommandError) || err.exitCode !== EXIT_LINK) return err;
  const at = err.stderrTail.split('\n').find((l) => l.startsWith(LINK_SAID))?.slice(LINK_SAID.length) ?? 'a path';
  return new ValidationError(`${where}: ${JSON.stringify(at)} is a symbolic link on the backup host: refused, nothing was read, written or removed through it; remove the link and find out who made it`, { path: at }, { cause: err });
}

/** Quotes one word for a POSIX shell (the remote side of ssh). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The hidden temporary name beside `finalPath` that an upload writes first (list() skips dot names). */
export function remoteTempName(finalPath: string): string {
  return `${posix.dirname(finalPath)}/.${posix.basename(finalPath)}.${randomBytes(6).toString('hex')}.partial`;
}

/** The remote shell command of one upload: mkdir, cat into `tmp`, check and cut the marker, sync, rename, print the size. */
export function putScript(finalPath: string, tmp: string, marker: string, guard: readonly string[] = []): string {
  if (!/^[0-9a-f]{64}$/.test(marker)) throw new ValidationError('the end marker must be 64 hex characters');
  const [d, t, f] = [posix.dirname(finalPath), tmp, finalPath].map(shQuote);
  return [
    // A client that went away must not stop the clean-up: a write to its closed stderr would kill the shell.
    'trap', "''", 'HUP', 'PIPE;', 'umask 027;', 'set -C;',
    ...guard,
    'if', 'mkdir', '-p', '--', d, '&&', 'cat', '>', t, ';', 'then', ':', ';', 'else', 'rm', '-f', '--', t, ';', 'exit', String(EXIT_PUT_FAILED), ';', 'fi', ';',
    // Compared in hex: the shell drops NUL bytes from a command's output, and archives hold many.
    'if', 'test', `"$(tail -c ${END_MARKER_BYTES} -- ${t} | od -An -tx1 | tr -d ' \\n')"`, '=', shQuote(Buffer.from(marker).toString('hex')), ';', 'then', ':', ';',
    'else', 'rm', '-f', '--', t, ';', 'echo', shQuote('the stream ended before its end marker'), '>&2', ';', 'exit', String(EXIT_PUT_CUT_SHORT), ';', 'fi', ';',
    'if', 'truncate', '-s', `-${END_MARKER_BYTES}`, '--', t, '&&', 'sync', '--', t, '&&', 'mv', '-f', '--', t, f, ';', 'then', 'stat', '-c', '%s', '--', f, ';',
    'else', 'rm', '-f', '--', t, ';', 'exit', String(EXIT_PUT_FAILED), ';', 'fi',
  ].join(' ');
}

/** The remote shell command of one download from byte `offset` (0-based). */
export function getScript(path: string, offset: number, guard: readonly string[] = []): string {
  const p = shQuote(path);
  return [...guard, 'if', 'test', '-f', p, ';', 'then', 'exec', 'tail', '-c', `+${offset + 1}`, '--', p, ';', 'else', 'exit', String(EXIT_GET_ABSENT), ';', 'fi'].join(' ');
}

/** Passes the stream on, counting bytes and the instant of the last one; on a clean end, checks the size and appends the marker. */
class MarkedStream extends Transform {
  bytes = 0;
  lastByteAt = Date.now();
  constructor(private readonly marker: string, private readonly expectedSize: number | undefined, private readonly what: string) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.lastByteAt = Date.now();
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    // A wrong size never gets its marker: the remote side removes the upload.
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) cb(new ValidationError(`upload of ${this.what} has ${this.bytes} bytes, expected ${this.expectedSize}`, { path: this.what }));
    else cb(null, Buffer.from(this.marker));
  }
}

/** Delays chunks so the stream averages at most `kBps` KiB/s (rsync's --bwlimit, for streams). */
export function bandwidthLimit(kBps: number): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      const due = started + (sent / (kBps * 1024)) * 1000;
      const wait = due - Date.now();
      if (wait > 0) setTimeout(() => cb(null, chunk), wait);
      else cb(null, chunk);
    },
  });
}

/** What one streamed upload needs. */
export interface StreamPut {
  /** `ssh` with its options and `--`, `user@host`: the remote command is appended. */
  sshArgv: readonly string[];
  spawn: ProcessSpawner;
  finalPath: string;
  /** The destination-relative path, for messages. */
  relPath: string;
  source: Readable;
  size?: number;
  signal?: AbortSignal;
  bwlimitKBps?: number;
  /** Seconds without a byte sent before the upload is given up as stalled (rsync's --timeout). */
  ioTimeoutSeconds: number;
  /** linkGuard() of the path. */
  guard?: readonly string[];
}

/**
 * Streams `source` to `finalPath` on the backup host. Throws TransferInterruptedError when the
 * connection failed (the caller makes the stream again), the source's own error when it failed,
 * CommandError when the backup host refused the file; in every case nothing is under the final name.
 */
export async function putStream(p: StreamPut): Promise<{ size: number }> {
  const marker = randomBytes(END_MARKER_BYTES / 2).toString('hex');
  const tmp = remoteTempName(p.finalPath);
  const proc = p.spawn([...p.sshArgv, putScript(p.finalPath, tmp, marker, p.guard)], { signal: p.signal });
  const marked = new MarkedStream(marker, p.size, p.relPath);
  let stalled = false;
  const watchdog = setInterval(() => {
    if (Date.now() - marked.lastByteAt <= p.ioTimeoutSeconds * 1000) return;
    stalled = true;
    proc.kill();
  }, 1000);
  watchdog.unref();
  const stdout: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => stdout.push(c));
  const stages = p.bwlimitKBps ? [marked, bandwidthLimit(p.bwlimitKBps)] : [marked];
  // A failed source destroys ssh's stdin: end-of-file without the marker, the remote side cleans up.
  const sent = pipeline([p.source, ...stages, proc.stdin]).then(() => null, (e: unknown) => e);
  const exited = proc.done.then(() => null, (e: unknown) => e);
  const sendErr = await sent;
  // The remote side ends on its own once stdin is closed; a connection that hangs is not waited on for ever.
  const killer = sendErr ? setTimeout(() => proc.kill(), 30_000) : undefined;
  const exitErr = await exited;
  clearInterval(watchdog);
  clearTimeout(killer);
  if (p.signal?.aborted) throw p.signal.reason;
  if (exitErr) throw classifyPutFailure(exitErr, sendErr, p.relPath, stalled ? p.ioTimeoutSeconds : null);
  if (sendErr) throw sendErr;
  const out = Buffer.concat(stdout).toString('utf8').trim();
  if (out !== String(marked.bytes)) {
    throw new ValidationError(`${p.relPath}: the backup host stored ${JSON.stringify(out.slice(0, 40))} bytes, ${marked.bytes} were sent; check the backup host's disk`, { path: p.relPath });
  }
  return { size: marked.bytes };
}

/** The error an upload whose ssh failed ends with: interrupted (worth making the stream again) or not. */
function classifyPutFailure(exitErr: unknown, sendErr: unknown, relPath: string, stalledAfter: number | null): unknown {
  if (!(exitErr instanceof CommandError)) return exitErr;
  if (exitErr.exitCode === EXIT_PUT_CUT_SHORT && sendErr) return sendErr; // the source failed: its own error says why
  if (exitErr.exitCode === EXIT_PUT_FAILED) return exitErr; // the backup host refused (disk full, permissions): stderr says which
  if (exitErr.exitCode === EXIT_LINK) return linkRefusal(exitErr, relPath);
  if (sendErr instanceof ValidationError) return sendErr;
  const why = stalledAfter !== null ? `no byte went out for ${stalledAfter} s` : exitErr.exitCode === EXIT_PUT_CUT_SHORT ? 'the stream arrived cut short' : exitErr.message;
  // ssh's own failures that another attempt cannot fix stay CommandErrors, explained by the caller.
  if (exitErr.exitCode === 255 && /Permission denied|Host key verification failed|No .*host key is known|Could not resolve/i.test(exitErr.stderrTail)) return exitErr;
  if (stalledAfter !== null || exitErr.exitCode === null || exitErr.exitCode === 255 || exitErr.exitCode === EXIT_PUT_CUT_SHORT) {
    return new TransferInterruptedError(`upload of ${relPath} was cut short (${why}); nothing is stored under its name`, { path: relPath }, { cause: exitErr });
  }
  return exitErr;
}

/** What one streamed download needs. */
export interface StreamGet {
  sshArgv: readonly string[];
  spawn: ProcessSpawner;
  path: string;
  relPath: string;
  /** The destination, for messages. */
  where: string;
  /** Connections in all, the first one included; a broken one resumes where it stopped. */
  attempts: number;
  /** Wait before reconnecting, ms. */
  retryDelayMs: number;
  /** linkGuard() of the path. */
  guard?: readonly string[];
}

/**
 * Opens `path` on the backup host for reading. Throws NotFoundError (before returning) when it
 * does not exist; a connection that breaks midway is opened again from the byte it stopped at.
 */
export async function getStream(p: StreamGet): Promise<Readable> {
  let offset = 0;
  let attempt = 1;
  let proc: RunningProcess;
  const transient = (err: unknown) => err instanceof CommandError && (err.exitCode === 255 || err.exitCode === null);
  const again = async (err: unknown) => {
    if (!transient(err) || attempt >= p.attempts) throw getError(err, p.relPath, p.where);
    attempt++;
    await new Promise((r) => setTimeout(r, p.retryDelayMs));
  };
  // Wait for the first byte or the end, so a missing file is an error here and not on the stream.
  for (;;) {
    proc = p.spawn([...p.sshArgv, getScript(p.path, 0, p.guard)]);
    const exitErr = await firstChunkOrExit(proc);
    if (!exitErr) break;
    await again(exitErr);
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      try {
        for await (const c of proc.stdout) {
          offset += (c as Buffer).length;
          yield c as Buffer;
        }
        await proc.done;
        return;
      } catch (err) {
        proc.kill();
        await again(err);
        proc = p.spawn([...p.sshArgv, getScript(p.path, offset, p.guard)]);
      }
    }
  }
  const out = Readable.from(chunks(), { objectMode: false, highWaterMark: 1 << 20 });
  out.once('close', () => proc.kill());
  return out;
}

/** Resolves with null once `proc` has written to stdout (nothing is consumed) or exited 0; with its error if it failed first. */
function firstChunkOrExit(proc: RunningProcess): Promise<unknown> {
  return new Promise((resolve) => {
    // 'readable' also fires at end-of-stream, with nothing to read: then the exit decides.
    const onReadable = () => {
      if (proc.stdout.readableLength > 0) resolve(null);
      else proc.stdout.once('readable', onReadable);
    };
    proc.stdout.once('readable', onReadable);
    proc.done.then(
      () => resolve(null),
      (e: unknown) => resolve(e),
    );
  });
}

/** A download's failure: NotFoundError for a missing file, the ssh error otherwise. */
function getError(err: unknown, relPath: string, where: string): unknown {
  if (err instanceof CommandError && err.exitCode === EXIT_GET_ABSENT) return new NotFoundError(`${relPath} does not exist in ${where}`, { path: relPath });
  return linkRefusal(err, `${where}: ${relPath}`);
}
