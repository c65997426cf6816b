/**
 * A small state file written so that a crash at any instant leaves either the old content or the
 * new one, never a torn file: a temporary file beside it, fsynced, renamed over it, and the folder
 * fsynced so the rename itself survives a power cut.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `body` to `file` in place (mode 0600) and fsyncs it: for a name nothing reads until it is complete. */
export function writeFileSynced(file: string, body: string): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `body` to `file` durably (mode 0600); the folder must exist. */
export function writeFileDurably(file: string, body: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSynced(tmp, body);
    renameSync(tmp, file);
  } catch (err) {
    // A full disk or a name that cannot be replaced: the temporary file must not stay beside it.
    removeQuietly(tmp);
    throw err;
  }
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Removes a temporary file after a failure; never throws, so the failure's own error is the one reported. */
export function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // The folder refuses even that: nothing could have been written in it either.
  }
}
