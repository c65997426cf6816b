/**
 * The size of libuv's thread pool, which runs every file-system call of the coordinator. A local
 * or NFS destination answers an unlink, a stat or an fsync in a fraction of a millisecond to a
 * few milliseconds of waiting (the journal, the server's round trip), not of work: with libuv's
 * default of 4 threads, a prune removing 70 000 files of 345 sets waits its way through them four
 * at a time. A wider pool keeps more of those waits side by side. Threads that have nothing to do
 * sleep and cost only their stacks' address space.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the pool first serves a call: this module is imported
 * first by the coordinator's entry point, before any file is opened asynchronously.
 */

/** Threads in the coordinator's pool unless the operator sets UV_THREADPOOL_SIZE: 64 (libuv's maximum is 1024). */
export const COORDINATOR_THREADPOOL_SIZE = 64;

/** Sets UV_THREADPOOL_SIZE for this process; an operator who set it keeps their value. */
export function widenThreadpool(env: NodeJS.ProcessEnv = process.env): void {
  env.UV_THREADPOOL_SIZE ||= String(COORDINATOR_THREADPOOL_SIZE);
}

widenThreadpool();
