/**
 * The JMX snapshot trigger: a small Java program (java/SnapshotTrigger.java) started in Prepare,
 * connected to the node's StorageService and waiting. Commit writes one line and the snapshot is
 * taken at once, without nodetool's JVM start-up of a second or more.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CommandError, TandemError, errorMessage } from '../../../shared/errors';
import { spawnProcess, type ProcessSpawner, type RunningProcess } from '../../../shared/exec';

/** A Java program's source, found beside this module in the source tree (dist/ holds only compiled JS). */
export function javaSource(name: 'SnapshotTrigger' | 'RowCounter'): string {
  const candidates = [join(__dirname, 'java', `${name}.java`), resolve(__dirname, `../../../../agent/roles/cassandra/java/${name}.java`)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new TandemError(`${name}.java not found (looked in ${candidates.join(', ')}); reinstall tandem`);
  return found;
}

/** A running trigger. */
export class SnapshotTrigger {
  private readonly lines: string[] = [];
  private waiters: ((line: string | null) => void)[] = [];
  private closed = false;
  /** Why the JVM ended, once it has: a CommandError with its exit code, or why it could not run. */
  private ended: unknown = null;

  private constructor(private readonly proc: RunningProcess) {
    createInterface({ input: proc.stdout }).on('line', (l) => this.push(l));
    proc.done
      .catch((e: unknown) => (this.ended = e))
      .finally(() => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w(null);
      });
  }

  /** What the JVM said on stderr, or why it could not run. */
  private get stderr(): string {
    return this.proc.stderrTail() || (this.ended ? errorMessage(this.ended) : '');
  }

  /** Starts the JVM (through `spawn`, default spawnProcess) and waits until it is connected to StorageService. */
  static async start(
    java: string,
    host: string,
    port: number,
    env: Record<string, string>,
    spawn: ProcessSpawner = spawnProcess,
    timeoutMs = 60_000,
  ): Promise<SnapshotTrigger> {
    const argv = [java, '-Xmx64m', '-XX:TieredStopAtLevel=1', javaSource('SnapshotTrigger'), host, String(port)];
    const t = new SnapshotTrigger(spawn(argv, { env }));
    const first = await t.next(timeoutMs);
    if (first !== 'READY') {
      t.close();
      const exitCode = t.ended instanceof CommandError ? t.ended.exitCode : null;
      throw new CommandError(argv, exitCode, null, t.stderr, `cannot connect to Cassandra's JMX at ${host}:${port} (roles.cassandra.jmx): ${first ?? firstCause(t.stderr)}`);
    }
    return t;
  }

  /** Takes the snapshot now; resolves with the JMX call's start and end instants (ms). */
  async snapshot(tag: string, keyspaces: string[], timeoutMs = 600_000): Promise<{ startedAt: number; endedAt: number }> {
    if (this.closed) throw new TandemError('the snapshot trigger has exited; prepare again');
    this.proc.stdin.write(`SNAPSHOT ${tag} ${keyspaces.join(',')}\n`);
    const line = await this.next(timeoutMs);
    const m = line ? /^DONE (\d+) (\d+)$/.exec(line) : null;
    if (!m) throw new TandemError(`snapshot ${tag} failed: ${line ?? `trigger exited: ${this.stderr.trim()}`}`);
    return { startedAt: Number(m[1]), endedAt: Number(m[2]) };
  }

  /** Stops the JVM. */
  close(): void {
    if (!this.closed) this.proc.stdin.end('QUIT\n');
    this.proc.kill();
  }

  private push(line: string): void {
    const w = this.waiters.shift();
    if (w) w(line);
    else this.lines.push(line);
  }

  private next(timeoutMs: number): Promise<string | null> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolvePromise) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolvePromise(null);
      }, timeoutMs);
      const done = (l: string | null) => {
        clearTimeout(timer);
        resolvePromise(l);
      };
      this.waiters.push(done);
    });
  }
}

/** The most telling line of a Java stack trace: the deepest 'Caused by', else the first exception. */
function firstCause(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  const causes = lines.filter((l) => l.startsWith('Caused by:'));
  return (causes.at(-1) ?? lines.find((l) => /Exception|Error/.test(l)) ?? lines.at(-1) ?? 'no output').slice(0, 300);
}
