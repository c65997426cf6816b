/**
 * The shipped Prometheus alert rules (deploy/prometheus/tandem-rules.yml) pass Prometheus's own
 * checker and their unit tests (tandem-rules.test.yml), with promtool from test/tools/promtool.sh
 * (installed into .cache/ when missing). No promtool is a failure, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = resolve(__dirname, '../../..');
const RULES = join(ROOT, 'deploy/prometheus');

function promtool(): string {
  const r = spawnSync('bash', [join(ROOT, 'test/tools/promtool.sh')], { encoding: 'utf8', timeout: 600_000 });
  assert.is(r.status, 0, `promtool could not be found or installed: ${r.stderr}`);
  return r.stdout.trim();
}

test('promtool check rules and promtool test rules pass on the shipped rules', () => {
  const bin = promtool();
  const check = spawnSync(bin, ['check', 'rules', 'tandem-rules.yml'], { cwd: RULES, encoding: 'utf8' });
  assert.is(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /SUCCESS: 8 rules found/);
  const t = spawnSync(bin, ['test', 'rules', 'tandem-rules.test.yml'], { cwd: RULES, encoding: 'utf8' });
  assert.is(t.status, 0, t.stdout + t.stderr);
  assert.match(t.stdout, /SUCCESS/);
});

test.run();
