/**
 * The product as an operator installs it: `npm pack`, then `npm install -g` of the tarball into a
 * temporary prefix with production dependencies only, then the installed `tandem` and
 * `tandem-agent` from the prefix's bin/, and the packaged systemd units checked by
 * systemd-analyze (Debian's systemd package). Needs no sandbox and no rehearsal role.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const ROOT = resolve(__dirname, '../../..');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const tmp = scratchDirSync('pkg');
const prefix = join(tmp, 'prefix');
const bin = (name: string) => join(prefix, 'bin', name);

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  return { code: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

// Only the installed prefix's bin/ and node itself: nothing of this repository is on the PATH.
// NO_COLOR and FORCE_COLOR (test/run.sh sets both) make Node itself warn: left out.
const { NO_COLOR: _n, FORCE_COLOR: _f, ...inherited } = process.env;
const env = { ...inherited, PATH: `${join(prefix, 'bin')}:${resolve(process.execPath, '..')}:/usr/bin:/bin` };

test.after(() => removeScratch(tmp));

test('npm pack gives a tarball of the compiled code that installs with npm install -g', () => {
  // dist/ is already built by the test run; prepack (a clean build) would delete it under the
  // running tests, so it is skipped here.
  const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp, '--json'], { cwd: ROOT });
  assert.is(pack.code, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  assert.is(info.filename, `tandem-${VERSION}.tgz`);
  const paths = info.files.map((f) => f.path);
  for (const p of ['dist/coordinator/main.js', 'dist/agent/main.js', 'agent/roles/cassandra/java/CassandraHelper.java', 'systemd/tandem-agent.service', 'deploy/agent.example.yaml', 'deploy/prometheus/tandem-rules.yml', 'README.md', 'docs/restore-by-hand.md']) {
    assert.ok(paths.includes(p), `${p} is in the tarball`);
  }
  assert.not.ok(paths.some((p) => p.startsWith('dist/test/') || p.endsWith('.map') || p.endsWith('.ts')), 'no tests, sources or maps');

  const install = run('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, info.filename)], { cwd: tmp });
  assert.is(install.code, 0, install.stderr);
  assert.equal(readdirSync(join(prefix, 'bin')).sort(), ['tandem', 'tandem-agent']);
});

test('the installed binaries answer --version from the PATH', () => {
  for (const name of ['tandem', 'tandem-agent']) {
    const r = run(name, ['--version'], { env, cwd: tmp });
    assert.is(r.code, 0, `${name}: ${r.stderr}`);
    assert.is(r.stdout.trim(), VERSION);
    assert.is(r.stderr, '', `${name} prints no warning`);
  }
  assert.ok(readFileSync(bin('tandem'), 'utf8').startsWith('#!/usr/bin/env node\n'));
});

test('tandem-agent --check-config: 0 on the shipped example, 2 on a broken config', () => {
  const example = join(prefix, 'lib/node_modules/tandem/deploy/agent.example.yaml');
  const ok = run('tandem-agent', ['--check-config', example], { env, cwd: tmp });
  assert.is(ok.code, 0, ok.stderr);
  assert.is(JSON.parse(ok.stdout).node, 'cass1');
  const broken = join(tmp, 'broken.yaml');
  writeFileSync(broken, 'node: cass1\nlisten: nowhere\nroles: {files: {store: localfs, location: /opt/thp/thehive/files}}\n');
  const bad = run('tandem-agent', ['--check-config', broken], { env, cwd: tmp });
  assert.is(bad.code, 2, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /listen/);
});

test('the packaged systemd units pass systemd-analyze verify with the installed binaries; the agent unit is hardened', () => {
  // The units name /usr/local/bin (npm install -g --prefix /usr/local): the copies checked here
  // name this prefix instead, so that systemd-analyze finds the real installed programs.
  const units = join(tmp, 'units');
  mkdirSync(units);
  const shipped = join(prefix, 'lib/node_modules/tandem/systemd');
  const names = readdirSync(shipped).filter((n) => /\.(service|timer)$/.test(n));
  assert.equal(names.sort(), ['tandem-agent.service', 'tandem-backup.service', 'tandem-backup.timer', 'tandem-drill.service', 'tandem-drill.timer']);
  for (const n of names) {
    const text = readFileSync(join(shipped, n), 'utf8');
    if (n.endsWith('.service')) assert.match(text, /^ExecStart=\/usr\/local\/bin\/tandem(-agent)? /m, n);
    if (n === 'tandem-backup.service') assert.match(text, /^ExecStartPost=\/usr\/local\/bin\/tandem prune --config /m, 'the backup unit prunes after a complete backup');
    writeFileSync(join(units, n), text.replace(/^(ExecStart(?:Post)?=)\/usr\/local\/bin\//gm, `$1${prefix}/bin/`));
  }
  const verify = run('systemd-analyze', ['verify', ...names], { cwd: units });
  assert.is(verify.code, 0, verify.stderr);
  assert.is(verify.stderr.trim(), '', 'no warnings');
  for (const n of names.filter((x) => x.endsWith('.service'))) assert.match(readFileSync(join(units, n), 'utf8'), /^MemoryMax=.+\n(?:.*\n)*?TasksMax=\d+$/m, `${n} bounds memory and tasks`);

  // A local destination: the drop-in `tandem systemd` prints opens it, and the units still verify with it.
  const fleetFile = join(tmp, 'fleet.yaml');
  writeFileSync(fleetFile, [
    'agents: [{node: cass1, address: "10.0.0.1:7443", roles: [cassandra]}]',
    'signing: {key: /etc/tandem/signing.key}',
    'destination: {type: local, path: /mnt/backups/tandem}',
    '',
  ].join('\n'));
  const dropIn = run('tandem', ['systemd', '--config', fleetFile], { env, cwd: tmp });
  assert.is(dropIn.code, 0, dropIn.stderr);
  assert.match(dropIn.stdout, /^ReadWritePaths=\/mnt\/backups\/tandem$/m);
  for (const u of ['tandem-backup.service', 'tandem-drill.service']) {
    mkdirSync(join(units, `${u}.d`));
    writeFileSync(join(units, `${u}.d`, 'paths.conf'), dropIn.stdout);
  }
  const withDropIn = run('systemd-analyze', ['verify', 'tandem-backup.service', 'tandem-drill.service'], { cwd: units, env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` } });
  assert.is(withDropIn.code, 0, withDropIn.stderr);
  assert.is(withDropIn.stderr.trim(), '', 'no warnings with the drop-in');
  const security = run('systemd-analyze', ['security', '--offline=true', 'tandem-agent.service'], { cwd: units });
  const score = Number(/Overall exposure level for tandem-agent\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
  assert.ok(score <= 2.5, `exposure ${score} (docs/install.md says 2.5)\n${security.stdout}`);
});

test.run();
