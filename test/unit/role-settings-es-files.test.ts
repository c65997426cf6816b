/** Settings of the elasticsearch and files roles: validation, defaults, and theHiveConfig filling. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { esSettings, resolveEsSettings } from '../../agent/roles/elasticsearch/config';
import { filesSettings, resolveFilesSettings } from '../../agent/roles/files/config';
import { agentConfigSchema } from '../../agent/config';
import { scratchDirSync } from '../helpers/scratch';

const dir = scratchDirSync('role-settings');
const conf = (text: string) => {
  const p = join(dir, `application-${Math.random().toString(16).slice(2)}.conf`);
  writeFileSync(p, text);
  return p;
};
const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');

test('elasticsearch: defaults', () => {
  const r = resolveEsSettings(esSettings.parse({}));
  assert.is(r.url, 'http://127.0.0.1:9200');
  assert.is(r.repository, 'tandem');
  assert.equal(r.indexPatterns, ['thehive_global*', 'thehive-audits*', 'thehive']);
  assert.is(r.allowYellow, false);
  assert.is(r.snapshotTimeoutMs, 3_600_000);
});

test('elasticsearch: invalid values are refused with the key', () => {
  const msg = issues(esSettings.safeParse({ url: 'ftp://x', repository: 'Bad/Name', indexPatterns: ['../etc'], snapshotTimeoutMs: 5, extra: 1 }));
  for (const k of ['url', 'repository', 'indexPatterns.0', 'snapshotTimeoutMs', 'extra']) assert.ok(msg.includes(k), `${k} in ${msg}`);
  assert.match(issues(esSettings.safeParse({ username: 'u', password: 'p', passwordEnv: 'P' })), /not both/);
  assert.match(issues(esSettings.safeParse({ password: 'p' })), /needs a username/);
  assert.match(issues(esSettings.safeParse({ repositoryLocation: 'relative/dir' })), /repositoryLocation/);
});

test('elasticsearch: theHiveConfig fills url, credentials and index names; explicit settings win', () => {
  const p = conf('db.janusgraph.index.search { hostname = ["es9"], port = 9201, index-name = th2\n elasticsearch.http.auth.basic { username = th, password = pw } }\n');
  const r = resolveEsSettings(esSettings.parse({ theHiveConfig: p }));
  assert.equal([r.url, r.username, r.password], ['http://es9:9201', 'th', 'pw']);
  assert.equal(r.indexPatterns, ['th2_global*', 'thehive-audits*', 'th2']);
  const r2 = resolveEsSettings(esSettings.parse({ theHiveConfig: p, url: 'https://other:9200', username: 'me', passwordEnv: 'X', indexPatterns: ['a*'] }));
  assert.equal([r2.url, r2.username, r2.password, r2.indexPatterns], ['https://other:9200', 'me', undefined, ['a*']]);
  assert.throws(() => resolveEsSettings(esSettings.parse({ theHiveConfig: join(dir, 'missing.conf') })), /cannot read TheHive configuration/);
});

test('files: localfs defaults and location from theHiveConfig', () => {
  assert.equal(resolveFilesSettings(filesSettings.parse({ store: 'localfs' })), { store: 'localfs', location: '/opt/thp/thehive/files', concurrency: 4, restoreTargets: ['/opt/thp/thehive/files', '/var/tmp/tandem-drill'], theHiveProvider: undefined });
  const p = conf('storage { provider: localfs\n localfs.location: /srv/nfs/thehive }\n');
  const r = resolveFilesSettings(filesSettings.parse({ store: 'localfs', theHiveConfig: p, concurrency: 2 }));
  assert.equal(r, { store: 'localfs', location: '/srv/nfs/thehive', concurrency: 2, restoreTargets: ['/srv/nfs/thehive', '/var/tmp/tandem-drill'], theHiveProvider: 'localfs' });
  const explicit = resolveFilesSettings(filesSettings.parse({ store: 'localfs', theHiveConfig: p, location: '/x' }));
  assert.is(explicit.store === 'localfs' ? explicit.location : '', '/x');
});

test('files: s3 settings validated; bucket required without theHiveConfig', () => {
  assert.match(issues(filesSettings.safeParse({ store: 's3', endpoint: 'http://m:9000' })), /bucket is required/);
  assert.match(issues(filesSettings.safeParse({ store: 's3', bucket: 'Bad_Bucket' })), /bucket "Bad_Bucket"/);
  assert.match(issues(filesSettings.safeParse({ store: 's3', bucket: 'bk1', accessKeyId: 'a', accessKeyIdEnv: 'A' })), /not both/);
  assert.match(issues(filesSettings.safeParse({ store: 'ftp' })), /store/);
  assert.match(issues(filesSettings.safeParse({ store: 'localfs', bucket: 'bk1' })), /bucket/);
  const r = resolveFilesSettings(filesSettings.parse({ store: 's3', bucket: 'bk1', endpoint: 'http://m:9000', accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK' }));
  assert.equal(r, { store: 's3', endpoint: 'http://m:9000', bucket: 'bk1', region: 'us-east-1', forcePathStyle: true, accessKeyId: undefined, secretAccessKey: undefined, accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK', concurrency: 4, restoreTargets: ['/var/tmp/tandem-drill'], theHiveProvider: undefined });
});

test('files: s3 from theHiveConfig, explicit keys win as a pair', () => {
  const p = conf('storage { provider: s3\n s3 { bucket = th-files, endpoint-url = "http://m:9000", access-style = virtual\n aws.credentials.access-key-id = ak, aws.credentials.secret-access-key = sk } }\n');
  const r = resolveFilesSettings(filesSettings.parse({ store: 's3', theHiveConfig: p }));
  assert.ok(r.store === 's3');
  if (r.store !== 's3') return;
  assert.equal([r.bucket, r.endpoint, r.forcePathStyle, r.accessKeyId, r.secretAccessKey], ['th-files', 'http://m:9000', false, 'ak', 'sk']);
  const r2 = resolveFilesSettings(filesSettings.parse({ store: 's3', theHiveConfig: p, accessKeyIdEnv: 'A', secretAccessKeyEnv: 'S' }));
  assert.ok(r2.store === 's3' && r2.accessKeyId === undefined && r2.accessKeyIdEnv === 'A');
});

test('agent config accepts both roles', () => {
  const c = agentConfigSchema().parse({
    node: 'th1',
    listen: '127.0.0.1:7400',
    roles: { elasticsearch: { repositoryLocation: '/mnt/es-backup/tandem', allowYellow: true }, files: { store: 'localfs', location: '/opt/thp/thehive/files' } },
  });
  assert.is((c.roles.elasticsearch as { repository: string }).repository, 'tandem');
  assert.is((c.roles.files as { store: string }).store, 'localfs');
});

test.run();
