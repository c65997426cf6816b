/**
 * How `tandem` ends. When stdout is a pipe, Node writes to it asynchronously: process.exit()
 * right after a large console.log() drops whatever the pipe has not taken yet (a reader got the
 * first 64 KiB of a `show --json` document). Every exit path goes through exitWhenFlushed().
 */

/** Resolves once everything written to `stream` so far has been handed to the OS (or can never be). */
export function flushed(stream: NodeJS.WritableStream & { destroyed?: boolean; writable?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writable === false) return resolve();
    // A reader that went away (EPIPE) will never take the rest: nothing is left to wait for.
    const gone = () => resolve();
    stream.once('error', gone);
    // Write callbacks run in order, so this one runs after every earlier chunk was written.
    stream.write('', (err) => {
      // On a write error the 'error' event comes after this callback: keep the listener for it.
      if (!err) stream.off('error', gone);
      resolve();
    });
  });
}

/** Exits with `code` after stdout and stderr are flushed, so --json output is whole on a pipe. */
export async function exitWhenFlushed(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  // Exit explicitly rather than wait for the event loop to empty: a handle left open by a
  // library (a keep-alive socket, a timer) must not keep a finished command alive.
  process.exit(code);
}
