/**
 * The JMX snapshot trigger: a small Java program (java/SnapshotTrigger.java) started in Prepare,
 * connected to the node's StorageService and waiting. Commit writes one line and the snapshot is
 * taken at once, without nodetool's JVM start-up of a second or more.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CommandError, TandemError } from '../../../shared/errors';
import { terminate } from '../../../shared/exec';

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
  private stderr = '';
  private closed = false;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => this.push(l));
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    child.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    child.on('error', (e) => (this.stderr += e.message));
  }

  /** Starts the JVM and waits until it is connected to StorageService. */
  static async start(java: string, host: string, port: number, env: Record<string, string>, timeoutMs = 60_000): Promise<SnapshotTrigger> {
    const argv = [java, '-Xmx64m', '-XX:TieredStopAtLevel=1', javaSource('SnapshotTrigger'), host, String(port)];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const t = new SnapshotTrigger(child);
    const first = await t.next(timeoutMs);
    if (first !== 'READY') {
      t.close();
      throw new CommandError(argv, child.exitCode, null, t.stderr, `cannot connect to Cassandra's JMX at ${host}:${port} (roles.cassandra.jmx): ${first ?? firstCause(t.stderr)}`);
    }
    return t;
  }

  /** Takes the snapshot now; resolves with the JMX call's start and end instants (ms). */
  async snapshot(tag: string, keyspaces: string[], timeoutMs = 600_000): Promise<{ startedAt: number; endedAt: number }> {
    if (this.closed) throw new TandemError('the snapshot trigger has exited; prepare again');
    this.child.stdin!.write(`SNAPSHOT ${tag} ${keyspaces.join(',')}\n`);
    const line = await this.next(timeoutMs);
    const m = line ? /^DONE (\d+) (\d+)$/.exec(line) : null;
    if (!m) throw new TandemError(`snapshot ${tag} failed: ${line ?? `trigger exited: ${this.stderr.trim()}`}`);
    return { startedAt: Number(m[1]), endedAt: Number(m[2]) };
  }

  /** Stops the JVM. */
  close(): void {
    if (!this.closed) this.child.stdin!.end('QUIT\n');
    terminate(this.child);
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
