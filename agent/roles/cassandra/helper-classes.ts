/**
 * The helper JVM's classes, compiled once per agent process: `java File.java` would compile the
 * source again at every start (a second or two with Cassandra's jars on the classpath). They go to
 * a private folder (mkdtemp, mode 0700) that no other user can fill with classes of their own.
 * The compiler is the JDK's jdk.compiler module run by `java` itself, which the source launcher
 * needed anyway: no separate javac program is required.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
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

/** Compiles (once per java and classpath in this process) the helper and the row counter. */
export function helperClasses(java: string, cassandraClasspath: string, run: CommandRunner): Promise<HelperClasses> {
  const key = `${java}\0${cassandraClasspath}`;
  let found = compiled.get(key);
  if (!found) {
    found = compile(java, cassandraClasspath, run);
    // A failed compile is tried again at the next need (a JDK installed since, say).
    found.catch(() => compiled.delete(key));
    compiled.set(key, found);
  }
  return found;
}

async function compile(java: string, cassandraClasspath: string, run: CommandRunner): Promise<HelperClasses> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-java-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const javac = (out: string, source: string, classpath: string[]) =>
    run([java, '-m', 'jdk.compiler/com.sun.tools.javac.Main', '-nowarn', '-Xlint:none', ...classpath, '-d', join(dir, out), source], { timeoutMs: 180_000 });
  try {
    await javac('helper', javaSource('CassandraHelper'), []);
  } catch (err) {
    throw new TandemError(`cannot compile the JMX helper with ${java} (roles.cassandra.java must be a JDK 11+ java with the jdk.compiler module): ${errorMessage(err)}`);
  }
  let counterProblem: string | null = null;
  try {
    await javac('counter', javaSource('RowCounter'), ['-classpath', await expandClasspath(cassandraClasspath)]);
  } catch (err) {
    counterProblem = `cannot compile the row counter against Cassandra's jars at ${cassandraClasspath} (roles.cassandra.classpath): ${errorMessage(err).slice(0, 500)}`;
  }
  return { classpath: [join(dir, 'helper'), join(dir, 'counter'), cassandraClasspath].join(':'), counterProblem };
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
