/**
 * Installs what the sandbox runs, idempotently, into the cache root outside the clone
 * (${TANDEM_SANDBOX_CACHE:-~/.cache/tandem-sandbox}) so fresh clones on the same machine reuse it.
 * A finished install leaves a `.complete` marker; a second run only checks markers and downloads nothing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../shared/exec';
import { sandboxPaths, VERSIONS } from './paths';

const APT_PACKAGES = ['rsync', 'bzip2', 'lbzip2', 'openssh-server', 'openssh-client'];

const log = (msg: string) => process.stderr.write(`[install] ${msg}\n`);

async function aptMissing(): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of APT_PACKAGES) {
    const r = await runCommand(['dpkg-query', '-W', '-f=${Status}', pkg], { okCodes: [0, 1] });
    if (!r.stdout.includes('install ok installed')) missing.push(pkg);
  }
  return missing;
}

/** Debian packages: only when one is missing, and `apt-get update` once before installing. */
export async function installApt(): Promise<void> {
  const missing = await aptMissing();
  if (missing.length === 0) return;
  log(`apt-get install ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await runCommand(['apt-get', 'update', '-q'], { env, timeoutMs: 600_000 });
  await runCommand(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing], { env, timeoutMs: 900_000 });
}

const mvnPlugin = () => `org.apache.maven.plugins:maven-dependency-plugin:${VERSIONS.mavenDependencyPlugin}`;

/** Maven's and Go's own caches live in the cache root too, so one folder is the whole cache (CI can keep it). */
const mavenRepo = () => `-Dmaven.repo.local=${path.join(sandboxPaths().cache, 'm2')}`;
const goEnv = () => ({
  GOMODCACHE: path.join(sandboxPaths().cache, 'go', 'mod'),
  GOCACHE: path.join(sandboxPaths().cache, 'go', 'build'),
  GOTOOLCHAIN: 'local',
  GOFLAGS: '-buildvcs=false',
});

/** Cassandra's runtime jars: a tiny pom depending on cassandra-all, then copy-dependencies (runtime scope). */
export async function installCassandra(): Promise<void> {
  const home = path.dirname(sandboxPaths().cassandraLib);
  if (existsSync(path.join(home, '.complete'))) return;
  log(`Cassandra ${VERSIONS.cassandra} runtime jars -> ${home}`);
  mkdirSync(home, { recursive: true });
  writeFileSync(
    path.join(home, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tandem.sandbox</groupId><artifactId>cassandra-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId><version>${VERSIONS.cassandra}</version>
    </dependency>
  </dependencies>
</project>
`,
  );
  const tmp = path.join(home, 'lib.tmp');
  rmSync(tmp, { recursive: true, force: true });
  await runCommand(
    ['mvn', '-q', '-B', mavenRepo(), `${mvnPlugin()}:copy-dependencies`, '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`],
    { cwd: home, timeoutMs: 1_200_000 },
  );
  rmSync(path.join(home, 'lib'), { recursive: true, force: true });
  renameSync(tmp, path.join(home, 'lib'));
  writeFileSync(path.join(home, '.complete'), `${new Date().toISOString()}\n`);
}

/** Elasticsearch's integ-test-zip (no bundled JDK, runs on the system JDK 17), unpacked once. */
export async function installElasticsearch(): Promise<void> {
  const home = sandboxPaths().esHomeCache;
  if (existsSync(path.join(home, '.complete'))) return;
  log(`Elasticsearch ${VERSIONS.elasticsearch} integ-test-zip -> ${home}`);
  const tmp = `${home}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await runCommand(
    [
      'mvn', '-q', '-B', mavenRepo(), `${mvnPlugin()}:unpack`,
      `-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${VERSIONS.elasticsearch}:zip`,
      `-DoutputDirectory=${tmp}`,
    ],
    { cwd: tmp, timeoutMs: 1_200_000 },
  );
  // The zip holds one top folder elasticsearch-<version>/.
  const inner = readdirSync(tmp).find((d) => d.startsWith('elasticsearch-'));
  if (!inner) throw new Error(`unexpected integ-test-zip layout in ${tmp}`);
  rmSync(home, { recursive: true, force: true });
  renameSync(path.join(tmp, inner), home);
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(path.join(home, '.complete'), `${new Date().toISOString()}\n`);
}

/** MinIO built from source through the Go module proxy (minutes on 2 cores; the Go caches make re-builds cheap). */
export async function installMinio(): Promise<void> {
  const bin = sandboxPaths().minioBin;
  const marker = `${bin}.version`;
  if (existsSync(bin) && existsSync(marker) && readText(marker) === VERSIONS.minio) return;
  log(`MinIO ${VERSIONS.minio}: go install (takes minutes on first run)`);
  const gobin = path.dirname(bin);
  mkdirSync(gobin, { recursive: true });
  await runCommand(['go', 'install', `github.com/minio/minio@${VERSIONS.minio}`], {
    cwd: gobin,
    env: { ...goEnv(), GOBIN: gobin },
    timeoutMs: 3_000_000,
  });
  writeFileSync(marker, VERSIONS.minio);
}

function readText(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/** Everything; the three downloads run side by side (two are network-bound, the Go build CPU-bound). */
export async function installAll(): Promise<void> {
  mkdirSync(sandboxPaths().cache, { recursive: true });
  await installApt();
  await Promise.all([installCassandra(), installElasticsearch(), installMinio()]);
}
