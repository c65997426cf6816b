/**
 * How a continuous capture runs (the commitlog's, the file store's): a look now, one every
 * `intervalMs`, and one soon after each change chokidar sees in the watched folder (links never
 * followed). Looks never overlap: a change during a look asks for one more right after it. A look
 * that fails is logged and the next one starts again from the capture's progress file.
 */
import type { FSWatcher } from 'chokidar';
import type * as Chokidar from 'chokidar';
import { errorMessage } from '../../shared/errors';
import { lazyModule } from '../../shared/lazy-module';
import type { Logger } from '../../shared/log';

/** chokidar, loaded only by an agent that captures. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const chokidar = lazyModule(() => require('chokidar') as typeof Chokidar);

/** Milliseconds a change waits for the ones right after it (Cassandra writes a segment's bytes, then its index). */
const SETTLE_MS = 300;

/** Options of a capture's loop. */
export interface CaptureLoopOptions {
  /** The folder watched for changes. */
  folder: string;
  /** What the log calls it ("cdc_raw", "the file store"). */
  folderName: string;
  /** What the log calls the capture ("commitlog capture"). */
  captureName: string;
  /** Milliseconds between two looks when nothing changes. */
  intervalMs: number;
  /** Watch the folder; false: the periodic looks only. */
  watch: boolean;
  /** How deep the watch goes (0: the folder's own entries); default all the way. */
  depth?: number;
  log: Logger;
}

/** The loop of one capture around its `lookOnce`. */
export class CaptureLoop<R> {
  private timer: NodeJS.Timeout | null = null;
  private settle: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private running: Promise<R> | null = null;
  private again = false;
  private stoppedFlag = false;
  private started = false;

  constructor(private readonly o: CaptureLoopOptions, private readonly lookOnce: () => Promise<R>) {}

  /** True once stop() was called: a long look ends early. */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Starts looking: once now, then on every change and every intervalMs. False when it was already started. */
  start(): boolean {
    if (this.started) return false;
    this.started = true;
    this.timer = setInterval(() => this.kick(), this.o.intervalMs);
    if (this.o.watch) {
      this.watcher = chokidar().watch(this.o.folder, { ...(this.o.depth === undefined ? {} : { depth: this.o.depth }), ignoreInitial: true, followSymlinks: false, persistent: true });
      this.watcher.on('all', () => this.kickSoon());
      this.watcher.on('error', (err) => this.o.log.warn({ err: errorMessage(err) }, `watching ${this.o.folderName} failed; the periodic look goes on`));
    }
    this.kick();
    return true;
  }

  /** Stops looking; resolves when the look under way has ended. */
  async stop(): Promise<void> {
    this.stoppedFlag = true;
    if (this.timer) clearInterval(this.timer);
    if (this.settle) clearTimeout(this.settle);
    await this.watcher?.close();
    await this.running?.catch(() => undefined);
  }

  private kickSoon(): void {
    if (this.stoppedFlag || this.settle) return;
    this.settle = setTimeout(() => {
      this.settle = null;
      this.kick();
    }, SETTLE_MS);
  }

  private kick(): void {
    if (this.stoppedFlag) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.look().catch((err) => this.o.log.error({ err: errorMessage(err) }, `${this.o.captureName}: a look failed; the next one resumes from the progress file`));
  }

  /** One look, and what it calls for; a call during one waits for it, then makes its own. */
  async look(): Promise<R> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.lookOnce();
    try {
      return await this.running;
    } finally {
      this.running = null;
      if (this.again && !this.stoppedFlag) {
        this.again = false;
        setImmediate(() => this.kick());
      }
    }
  }
}
