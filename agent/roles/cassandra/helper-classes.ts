/**
 * The helper JVM's classes, compiled once: `java File.java` would compile the source again at
 * every start (seconds with Cassandra's jars on the classpath, more on a busy host). They go to the
 * agent's own stateDir (kept across restarts), else to a private folder per process (mkdtemp, mode
 * 0700): never to a place another user could fill with classes of their own.
 * The compiler is the JDK's jdk.compiler module run by `java` itself, which the source launcher
 * needed anyway: no separate javac program is required.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TandemError, errorMessage } from '../../../shared/errors';
import type { CommandRunner } from '../../../shared/exec';

/** A Java program's source, found beside this module in the source tree (dist/ holds only compiled JS). */
export function javaSource(name: 'CassandraHelper' | 'RowCounter'): string {
  const candidates = [join(__dirname, 'java', `${name}.java`), resolve(__dirname, `../../../../agent/roles/cassandra/java/${name}.java`)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new TandemError(`${name}.java not found (looked in ${candidates.join(', ')}); reinstall tandem`);
  return found;
}

/** The compiled classes: the runtime classpath, and why the row counter is missing when it is. */
export interface HelperClasses {
  /** helper classes, row counter classes, then Cassandra's own classpath. */
  classpath: string;
  /** Why RowCounter did not compile (Cassandra's jars not found at roles.cassandra.classpath), or null. */
  counterProblem: string | null;
}

const compiled = new Map<string, Promise<HelperClasses>>();

/**
 * Compiles (once per java and classpath in this process) the helper and the row counter. With a
 * cache folder (in the agent's private stateDir), classes compiled by an earlier start of the agent
 * are used again when the sources, the classpath and the java program are the same.
 */
export function helperClasses(java: string, cassandraClasspath: string, run: CommandRunner, cacheDir: string | null = null): Promise<HelperClasses> {
  const key = `${java}\0${cassandraClasspath}\0${cacheDir}`;
  let found = compiled.get(key);
  if (!found) {
    found = cacheDir ? cached(java, cassandraClasspath, run, cacheDir) : compile(java, cassandraClasspath, run, null);
    // A failed compile is tried again at the next need (a JDK installed since, say).
    found.catch(() => compiled.delete(key));
    compiled.set(key, found);
  }
  return found;
}

/** The cache entry for these sources, classpath and java (its resolved path and mtime), compiled when missing. */
async function cached(java: string, cassandraClasspath: string, run: CommandRunner, cacheDir: string): Promise<HelperClasses> {
  const h = createHash('sha256').update(`${cassandraClasspath}\0${await javaIdentity(java)}\0`);
  for (const name of ['CassandraHelper', 'RowCounter'] as const) h.update(await readFile(javaSource(name)));
  const dir = join(cacheDir, h.digest('hex').slice(0, 16));
  const done = join(dir, 'classes.json');
  const prior = await readFile(done, 'utf8').then((t) => JSON.parse(t) as { counterProblem: string | null }, () => null);
  if (prior) return { classpath: runtimeClasspath(dir, cassandraClasspath), counterProblem: prior.counterProblem };
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  // Compiled beside, then renamed into place: a crash never leaves half a cache entry.
  const fresh = await mkdtemp(join(cacheDir, '.compiling-'));
  try {
    const out = await compile(java, cassandraClasspath, run, fresh);
    await writeFile(join(fresh, 'classes.json'), JSON.stringify({ counterProblem: out.counterProblem }));
    await rm(dir, { recursive: true, force: true });
    await rename(fresh, dir).catch(async (err: unknown) => {
      // Another agent process sharing this stateDir got there first: use its entry.
      if (!(await readFile(done).then(() => true, () => false))) throw err;
    });
    return { classpath: runtimeClasspath(dir, cassandraClasspath), counterProblem: out.counterProblem };
  } finally {
    // Gone once renamed; otherwise a failed compile's half entry, which every later try would add to.
    await rm(fresh, { recursive: true, force: true });
  }
}

/** The java program as it resolves on PATH, with its mtime: a JDK upgraded in place compiles again. */
async function javaIdentity(java: string): Promise<string> {
  const path = java.includes('/') ? java : (process.env.PATH ?? '').split(':').map((d) => join(d, java)).find((p) => existsSync(p)) ?? java;
  const real = await realpath(path).catch(() => path);
  const st = await stat(real).catch(() => null);
  return `${real}\0${st?.mtimeMs ?? 0}`;
}

const runtimeClasspath = (dir: string, cassandraClasspath: string) => [join(dir, 'helper'), join(dir, 'counter'), cassandraClasspath].join(':');

async function compile(java: string, cassandraClasspath: string, run: CommandRunner, into: string | null): Promise<HelperClasses> {
  // Made and registered in one step (no await between): a crash in between would leave it behind.
  const dir = into ?? mkdtempSync(join(tmpdir(), 'tandem-java-'));
  // A folder of this process's own: the helper JVM reads it while the agent runs, so it goes at exit.
  const removeAtExit = () => rmSync(dir, { recursive: true, force: true });
  if (!into) process.once('exit', removeAtExit);
  // A short-lived compiler: C1 only and the serial collector start faster on a busy host.
  const javac = (out: string, source: string, classpath: string[]) =>
    run([java, '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-m', 'jdk.compiler/com.sun.tools.javac.Main', '-nowarn', '-Xlint:none', ...classpath, '-d', join(dir, out), source], { timeoutMs: 180_000 });
  try {
    await javac('helper', javaSource('CassandraHelper'), []);
  } catch (err) {
    // Nothing will run from it, and the next need compiles into a new one: remove it now.
    if (!into) {
      process.off('exit', removeAtExit);
      await rm(dir, { recursive: true, force: true });
    }
    throw new TandemError(`cannot compile the JMX helper with ${java} (roles.cassandra.java must be a JDK 11+ java with the jdk.compiler module): ${errorMessage(err)}`);
  }
  let counterProblem: string | null = null;
  try {
    await javac('counter', javaSource('RowCounter'), ['-classpath', await expandClasspath(cassandraClasspath)]);
  } catch (err) {
    counterProblem = `cannot compile the row counter against Cassandra's jars at ${cassandraClasspath} (roles.cassandra.classpath): ${errorMessage(err).slice(0, 500)}`;
  }
  return { classpath: runtimeClasspath(dir, cassandraClasspath), counterProblem };
}

/** Expands `folder/*` entries into their jars: the java launcher does this, the compiler run as a module does not. */
export async function expandClasspath(classpath: string): Promise<string> {
  const out: string[] = [];
  for (const entry of classpath.split(':').filter(Boolean)) {
    if (!entry.endsWith('/*')) {
      out.push(entry);
      continue;
    }
    const folder = dirname(entry);
    const jars = await readdir(folder).catch(() => [] as string[]);
    out.push(...jars.filter((j) => /\.jar$/i.test(j)).sort().map((j) => join(folder, j)));
  }
  return out.join(':');
}
