/** Unit tests of the destination config schema and safeRelPath(). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, ValidationError } from '../../shared/errors';
import { parseDestinationConfig, safeRelPath, safeRelPrefix, bucketNameProblem, s3Credentials } from '../../shared/destination';
import type { S3DestinationConfig } from '../../shared/destination';

/** The ConfigError message for `input`, or fails the test if it validates. */
function problems(input: unknown): string {
  try {
    parseDestinationConfig(input);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  assert.unreachable(`expected ${JSON.stringify(input)} to be refused`);
  return '';
}

test('valid configs parse with defaults', () => {
  assert.equal(parseDestinationConfig({ type: 'local', path: '/mnt/nfs/backups' }), { type: 'local', path: '/mnt/nfs/backups' });
  const r = parseDestinationConfig({ type: 'rsync', host: 'backup-1.example.com', user: 'tandem', path: '/srv/backups', identityFile: '/etc/tandem/id_ed25519' });
  assert.equal(r, { type: 'rsync', host: 'backup-1.example.com', user: 'tandem', port: 22, path: '/srv/backups', identityFile: '/etc/tandem/id_ed25519', ioTimeoutSeconds: 300 });
  assert.is(parseDestinationConfig({ type: 'rsync', host: '10.0.0.7', user: 'u', path: '/b', port: 2222, bwlimitKBps: 10000 }).type, 'rsync');
  assert.is(parseDestinationConfig({ type: 'rsync', host: 'fd00::7', user: 'u', path: '/b' }).type, 'rsync');
  const s = parseDestinationConfig({ type: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'tandem-backups', prefix: 'prod/hive', accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK' });
  assert.equal(s, { type: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'tandem-backups', prefix: 'prod/hive', region: 'us-east-1', accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK', forcePathStyle: true, queueSize: 4, partSizeMiB: 16 });
  assert.is(parseDestinationConfig({ type: 's3', endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'my.bucket-1', region: 'eu-west-1', forcePathStyle: false }).type, 's3');
});

const invalid: Array<[string, unknown, RegExp]> = [
  ['unknown type', { type: 'ftp', path: '/a' }, /destination\.type: .*'local' \| 'rsync' \| 's3'/],
  ['missing type', { path: '/a' }, /destination\.type/],
  ['not an object', 'local:/a', /destination/],
  ['unknown key (strict)', { type: 'local', path: '/a', extraSshOptions: '-oX' }, /Unrecognized key: "extraSshOptions"/],
  ['relative path', { type: 'local', path: 'backups' }, /destination\.path: .*absolute/],
  ['unnormalized path', { type: 'local', path: '/a/./b' }, /not normalized \(did you mean \/a\/b\?\)/],
  ['dot-dot path', { type: 'local', path: '/a/../etc' }, /not normalized/],
  ['trailing slash', { type: 'local', path: '/a/' }, /must not end with "\/"/],
  ['space in path', { type: 'rsync', host: 'h', user: 'u', path: '/a b' }, /no spaces, quotes or shell metacharacters/],
  ['semicolon in path', { type: 'rsync', host: 'h', user: 'u', path: '/a;rm' }, /shell metacharacters/],
  ['option as host', { type: 'rsync', host: '-oProxyCommand=sh', user: 'u', path: '/a' }, /destination\.host: host must be/],
  ['user@ in host', { type: 'rsync', host: 'root@h', user: 'u', path: '/a' }, /destination\.host/],
  ['bad user', { type: 'rsync', host: 'h', user: '-l', path: '/a' }, /destination\.user/],
  ['port 0', { type: 'rsync', host: 'h', user: 'u', path: '/a', port: 0 }, /destination\.port/],
  ['port as string', { type: 'rsync', host: 'h', user: 'u', path: '/a', port: '22' }, /destination\.port/],
  ['quote in identityFile', { type: 'rsync', host: 'h', user: 'u', path: '/a', identityFile: "/k'ey" }, /destination\.identityFile/],
  ['relative knownHostsFile', { type: 'rsync', host: 'h', user: 'u', path: '/a', knownHostsFile: 'kh' }, /destination\.knownHostsFile: .*absolute/],
  ['fractional bwlimit', { type: 'rsync', host: 'h', user: 'u', path: '/a', bwlimitKBps: 1.5 }, /destination\.bwlimitKBps/],
  ['ftp endpoint', { type: 's3', endpoint: 'ftp://h', bucket: 'abc' }, /http:\/\/ or https:\/\//],
  ['garbage endpoint', { type: 's3', endpoint: 'not a url', bucket: 'abc' }, /destination\.endpoint/],
  ['endpoint with credentials', { type: 's3', endpoint: 'http://k:s@h:9000', bucket: 'abc' }, /no path, query or user:password/],
  ['uppercase bucket', { type: 's3', endpoint: 'http://h', bucket: 'Backups' }, /destination\.bucket: .*lowercase/],
  ['short bucket', { type: 's3', endpoint: 'http://h', bucket: 'ab' }, /3 to 63/],
  ['IP bucket', { type: 's3', endpoint: 'http://h', bucket: '10.1.2.3' }, /IP address/],
  ['absolute prefix', { type: 's3', endpoint: 'http://h', bucket: 'abc', prefix: '/x' }, /destination\.prefix: .*absolute/],
  ['key without secret', { type: 's3', endpoint: 'http://h', bucket: 'abc', accessKeyId: 'AK' }, /give both/],
  ['key and key env', { type: 's3', endpoint: 'http://h', bucket: 'abc', accessKeyId: 'a', accessKeyIdEnv: 'A', secretAccessKey: 's' }, /not both/],
  ['bad env name', { type: 's3', endpoint: 'http://h', bucket: 'abc', accessKeyIdEnv: 'A-B', secretAccessKeyEnv: 'S' }, /environment variable name/],
];
for (const [name, input, re] of invalid) {
  test(`refuses ${name}`, () => {
    const msg = problems(input);
    assert.ok(re.test(msg), `message ${JSON.stringify(msg)} does not match ${re}`);
  });
}

test('bucket name rules', () => {
  for (const ok of ['abc', 'tandem-backups', 'a.b.c', '1bucket']) assert.is(bucketNameProblem(ok), null, ok);
  for (const bad of ['a..b', '-abc', 'abc-', 'xn--abc', 'abc-s3alias', 'a_b', 'x'.repeat(64)]) assert.type(bucketNameProblem(bad), 'string', bad);
});

test('s3Credentials reads env vars and reports a missing one', () => {
  const c = parseDestinationConfig({ type: 's3', endpoint: 'http://h', bucket: 'abc', accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK' }) as S3DestinationConfig;
  assert.equal(s3Credentials(c, { AK: 'id', SK: 'secret' }), { accessKeyId: 'id', secretAccessKey: 'secret' });
  assert.throws(() => s3Credentials(c, { AK: 'id' }), (e: Error) => e instanceof ConfigError && /SK/.test(e.message));
  const none = parseDestinationConfig({ type: 's3', endpoint: 'http://h', bucket: 'abc' }) as S3DestinationConfig;
  assert.is(s3Credentials(none, {}), undefined);
});

const goodPaths = ['20250101T000000Z-ab12/manifest.json', 'b1/node1/thehive/case_v2.tbz', 'a', 'A-Z_0.9/x-y'];
const badPaths: Array<[string, RegExp]> = [
  ['', /empty/],
  ['/etc/passwd', /absolute/],
  ['..', /".."/],
  ['a/../../etc', /".."/],
  ['a/./b', /"\."/],
  ['a//b', /empty segment/],
  ['a/', /empty segment/],
  ['a\\b', /backslash/],
  ['a\0b', /control/],
  ['a\nb', /control/],
  ['a b', /" "/],
  ['a;rm -rf', /";"/],
  ['$(id)', /"\$"/],
  ['a*', /"\*"/],
  ['é', /"é"/],
  ['.hidden', /starts with "\."/],
  ['a/-rf', /starts with "-"/],
  ['x'.repeat(1025), /longer than/],
];

test('safeRelPath accepts safe paths unchanged', () => {
  for (const p of goodPaths) assert.is(safeRelPath(p), p);
});

for (const [p, re] of badPaths) {
  test(`safeRelPath refuses ${JSON.stringify(p.slice(0, 20))}`, () => {
    assert.throws(() => safeRelPath(p), (e: Error) => e instanceof ValidationError && re.test(e.message));
  });
}

test('safeRelPrefix allows the root and one trailing slash', () => {
  assert.is(safeRelPrefix(''), '');
  assert.is(safeRelPrefix('b1/'), 'b1');
  assert.is(safeRelPrefix('b1/node1'), 'b1/node1');
  assert.throws(() => safeRelPrefix('/'), (e: Error) => e instanceof ValidationError);
  assert.throws(() => safeRelPrefix('b1//'), (e: Error) => e instanceof ValidationError);
});

test.run();
