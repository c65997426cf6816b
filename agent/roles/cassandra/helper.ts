/**
 * The warm helper JVM of one agent (java/CassandraHelper.java): connected to its node's JMX once,
 * it serves the ring and schema checks, the snapshot, flushes, clearing snapshots, imports and the
 * offline row count, each as one line on its stdin. Nothing pays a JVM start but the first call
 * after the agent starts or after the helper idled out: nodetool costs one per call.
 *
 * The helper is held while a backup is prepared (Commit must find it warm) and stops after
 * `idleMs` without calls and holds, so an idle agent does not keep a JVM resident all day.
 */
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { CommandError, TandemError, ValidationError, errorMessage } from '../../../shared/errors';
import type { Exec, RunningProcess } from '../../../shared/exec';
import { helperClasses } from './helper-classes';
import { parseRing, parseSchemaReply, parseSnapshotList, parseSpan } from './helper-replies';
import { CASSANDRA_JDK17_FLAGS } from './jvm';
import type { RingNode } from './nodetool';

/** How to reach the node and run the JVM. */
export interface HelperOptions {
  java: string;
  jmx: { host: string; port: number };
  /** Cassandra's jars (roles.cassandra.classpath), for the row counter. */
  classpath: string;
  /** Environment of the JVM (JMX credentials). */
  env: Record<string, string>;
  exec: Exec;
  /** Stop after this long without calls or holds; 0 keeps it running. */
  idleMs: number;
  /** Where compiled classes are kept across restarts (in the agent's private stateDir); null: a fresh private folder per process. */
  classCache?: string | null;
  /** How long the JVM may take to connect; default 60 s. */
  startTimeoutMs?: number;
}

interface Pending {
  resolve(payload: string): void;
  reject(err: Error): void;
  /** The JVM's STARTED line (SNAPSHOT): its JMX call is leaving. */
  started?(): void;
  /** A health probe's call: it neither keeps the JVM from idling out nor holds it. */
  probe?: boolean;
}

/** Options of one call to the JVM. */
interface CallOptions {
  /** Runs when the JVM says the call is leaving (SNAPSHOT). */
  onStarted?: () => void;
  /** Gives the call up (its late answer is dropped). */
  signal?: AbortSignal;
  /** A health probe's call: not counted as work for the idle timer. */
  probe?: boolean;
}

interface Jvm {
  proc: RunningProcess;
  pending: Map<number, Pending>;
  /** Why the row counter cannot run, or null. */
  counterProblem: string | null;
}

/** A plain word of the protocol: no whitespace (paths and names are checked before they get here). */
const WORD = /^\S+$/;

/** The helper JVM of one node. */
export class CassandraHelper {
  private jvm: Promise<Jvm> | null = null;
  /** The JVM that answered READY last, once it has: a stale one's exit must not drop a newer one. */
  private jvmNow: Jvm | null = null;
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly holds = new Set<string>();

  constructor(private readonly o: HelperOptions) {}

  /** Keeps the JVM running while `key` (a backup id) needs it. */
  hold(key: string): void {
    this.holds.add(key);
    clearTimeout(this.idleTimer);
  }

  /** Lets the JVM idle out again once nothing holds it. */
  release(key: string): void {
    this.holds.delete(key);
    this.armIdle();
  }

  /** Stops the JVM (the agent stops). */
  close(): void {
    clearTimeout(this.idleTimer);
    const jvm = this.jvm;
    this.jvm = null;
    this.jvmNow = null;
    void jvm?.then((j) => {
      j.proc.stdin.end('QUIT\n');
      j.proc.kill();
    }, () => undefined);
  }

  ping = async (): Promise<void> => void (await this.call(['PING'], 30_000));

  /**
   * Whether Cassandra's JMX answers, for the health service: a JMX round trip (VERSION) through the
   * JVM when it runs, else a TCP connection to the JMX port. A probe every few seconds must neither
   * start a JVM (seconds of CPU) nor keep one from idling out, so it never counts as work.
   */
  async reachable(signal: AbortSignal): Promise<void> {
    if (this.jvmNow) return void (await this.call(['VERSION'], 30_000, { signal, probe: true }));
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: this.o.jmx.host, port: this.o.jmx.port });
      const done = (err?: Error) => {
        signal.removeEventListener('abort', abort);
        socket.destroy();
        if (err) reject(new TandemError(`nothing answers at ${this.where}: ${err.message}`));
        else resolve();
      };
      const abort = () => done(new Error('no connection before the deadline'));
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort, { once: true });
      socket.once('connect', () => done());
      socket.once('error', done);
    });
  }
  version = async (): Promise<string> => this.call(['VERSION'], 30_000);
  ring = async (): Promise<RingNode[]> => parseRing(await this.call(['RING'], 60_000));
  schemaVersions = async (): Promise<Record<string, string[]>> => parseSchemaReply(await this.call(['SCHEMA'], 60_000));
  snapshotTags = async (): Promise<{ tag: string; keyspace: string }[]> => parseSnapshotList(await this.call(['LISTSNAPSHOTS'], 120_000));
  clearSnapshot = async (tag: string, keyspace: string): Promise<void> => void (await this.call(['CLEAR', tag, keyspace], 600_000));
  /**
   * Takes snapshot `tag` of `keyspaces` (none: every keyspace); the JMX call's start and end
   * instants. `onStarted` runs when the JVM says the call is leaving, long before it returns.
   */
  snapshot = async (tag: string, keyspaces: readonly string[], onStarted?: () => void) =>
    parseSpan(await this.call(['SNAPSHOT', tag, keyspaces.length ? keyspaces.join(',') : '-'], 600_000, { onStarted }));
  /** Flushes the keyspace's memtables, so that the snapshot's own flush has little left to write. */
  flush = async (keyspace: string) => parseSpan(await this.call(['FLUSH', keyspace], 600_000));
  /** `nodetool import` of one table from `folder`. */
  importTable = async (keyspace: string, table: string, folder: string): Promise<void> => void (await this.call(['IMPORT', keyspace, table, folder], 6 * 3_600_000));

  /** RowCounter's line for one table ("ROWS …"): its SSTable folders, the instant, the ring's tokens. */
  async count(folders: readonly string[], atSeconds: number, tokens: readonly string[] | null): Promise<string> {
    for (const f of folders) if (f.includes(':')) throw new TandemError(`cannot count rows under ${f}: the path holds a ':'`);
    const jvm = await this.connect();
    if (jvm.counterProblem) throw new TandemError(jvm.counterProblem);
    return this.call(['COUNT', String(atSeconds), tokens?.length ? tokens.join(',') : '-', folders.join(':')], 6 * 3_600_000);
  }

  /** Sends one request and waits for its reply; ERR replies are TandemErrors with Cassandra's message. */
  private async call(words: string[], timeoutMs: number, opts: CallOptions = {}): Promise<string> {
    for (const w of words) if (!WORD.test(w)) throw new ValidationError(`JMX helper: ${JSON.stringify(w)} holds whitespace`);
    if (!opts.probe) clearTimeout(this.idleTimer);
    // A warm JVM is written to at once, without a turn of the event loop: Commit's snapshot
    // request leaves before the other roles' cuts run.
    const jvm = this.jvmNow ?? (await this.connect());
    const id = ++this.nextId;
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          jvm.pending.delete(id);
          reject(new TandemError(`JMX call ${words[0]} got no answer from ${this.where} within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const abort = () => settle(() => reject(new TandemError(`JMX call ${words[0]} to ${this.where} given up`)));
        const settle = (f: () => void) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', abort);
          jvm.pending.delete(id);
          f();
        };
        jvm.pending.set(id, { resolve: (p) => settle(() => resolve(p)), reject: (e) => settle(() => reject(e)), started: opts.onStarted, probe: opts.probe });
        if (opts.signal?.aborted) return abort();
        opts.signal?.addEventListener('abort', abort, { once: true });
        jvm.proc.stdin.write(`${id} ${words.join(' ')}\n`);
      });
    } finally {
      if (!opts.probe) this.armIdle();
    }
  }

  private get where(): string {
    return `Cassandra's JMX at ${this.o.jmx.host}:${this.o.jmx.port} (roles.cassandra.jmx)`;
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    // Never while a call is in flight: an import of a large table can outlast the idle time.
    if (!this.o.idleMs || this.holds.size || [...(this.jvmNow?.pending.values() ?? [])].some((p) => !p.probe)) return;
    this.idleTimer = setTimeout(() => this.close(), this.o.idleMs);
    this.idleTimer.unref();
  }

  /** The running JVM, started (and connected) when there is none. */
  private connect(): Promise<Jvm> {
    if (!this.jvm) {
      const started = this.start();
      this.jvm = started;
      started.catch(() => {
        if (this.jvm === started) this.jvm = null;
      });
    }
    return this.jvm;
  }

  private async start(): Promise<Jvm> {
    const classes = await helperClasses(this.o.java, this.o.classpath, this.o.exec.run, this.o.classCache ?? null);
    const argv = [
      this.o.java, '-Xmx512m', '-XX:+UseSerialGC', '-XX:MinHeapFreeRatio=10', '-XX:MaxHeapFreeRatio=30',
      ...CASSANDRA_JDK17_FLAGS, '-cp', classes.classpath, 'CassandraHelper', this.o.jmx.host, String(this.o.jmx.port),
    ];
    const proc = this.o.exec.spawn(argv, { env: this.o.env });
    const jvm: Jvm = { proc, pending: new Map(), counterProblem: classes.counterProblem };
    let ready: ((line: string | null) => void) | null = null;
    const first = new Promise<string | null>((r) => (ready = r));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (ready) return void (ready(line), (ready = null));
      const m = /^(\d+) (OK|ERR|STARTED)(?: (.*))?$/.exec(line);
      const p = m ? jvm.pending.get(Number(m[1])) : undefined;
      if (!m || !p) return;
      if (m[2] === 'STARTED') p.started?.();
      else if (m[2] === 'OK') p.resolve(m[3] ?? '');
      else p.reject(new TandemError(`${this.where}: ${m[3] ?? 'failed'}`));
    });
    const ended = (err: unknown) => {
      ready?.(null);
      if (this.jvmNow === jvm) {
        this.jvmNow = null;
        this.jvm = null;
      }
      const why = new TandemError(`the JMX helper for ${this.where} exited: ${firstCause(proc.stderrTail()) || errorMessage(err)}; the next call starts it again`);
      for (const p of [...jvm.pending.values()]) p.reject(why);
    };
    proc.done.then(() => ended('exit 0'), ended);
    const timer = setTimeout(() => ready?.(null), this.o.startTimeoutMs ?? 60_000);
    const line = await first;
    clearTimeout(timer);
    if (!line?.startsWith('READY')) {
      proc.kill();
      const exitCode = await proc.done.then(() => 0, (e: unknown) => (e instanceof CommandError ? e.exitCode : null));
      throw new CommandError(argv, exitCode, null, proc.stderrTail(), `cannot connect to ${this.where}: ${line ?? firstCause(proc.stderrTail())}`);
    }
    this.jvmNow = jvm;
    this.armIdle();
    return jvm;
  }
}

/** The most telling line of a Java stack trace: the deepest 'Caused by', else the first exception. */
export function firstCause(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const causes = lines.filter((l) => l.startsWith('Caused by:'));
  return (causes.at(-1) ?? lines.find((l) => /Exception|Error/.test(l)) ?? lines.at(-1) ?? 'no output').slice(0, 300);
}
