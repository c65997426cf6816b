/**
 * S3 keys stay where they are read: the coordinator sends agents a destination without them (the
 * protocol has no field for them, and an agent's state.json keeps only what it was sent), and each
 * agent reads its own from variables, a 0600 shared-credentials file, or the SDK's default chain.
 */
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentConfigSchema } from '../../agent/config';
import { parsePlan } from '../../agent/backup/plan';
import { preparedRecord } from '../../agent/backup/state';
import { StateStore } from '../../agent/backup/store';
import { AGENT_CREDENTIALS_HINT, agentDestinationOpener, agentS3Keys, parseCredentialsFile, readCredentialsFile } from '../../agent/destination-credentials';
import { literalSecretWarning } from '../../coordinator/config';
import { parseDestinationConfig, S3Destination, withoutCredentials } from '../../shared/destination';
import { ConfigError } from '../../shared/errors';
import { BackupPlan, Destination } from '../../shared/generated/tandem/v2/agent';
import { silenceThirdPartyNotices } from '../../shared/third-party-warnings';
import { toWireDestination } from '../../shared/wire/destination';
import { localPlan } from '../helpers/plan';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

silenceThirdPartyNotices();
const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const literal = parseDestinationConfig({ type: 's3', endpoint: 'http://127.0.0.1:9', bucket: 'backups', prefix: 'prod', accessKeyId: KEY_ID, secretAccessKey: SECRET });
const named = parseDestinationConfig({ type: 's3', endpoint: 'http://127.0.0.1:9', bucket: 'backups', accessKeyIdEnv: 'COORD_AK', secretAccessKeyEnv: 'COORD_SK' });
const dir = scratchDirSync('creds');
test.after(() => removeScratch(dir));

test('the destination an agent is sent holds no keys and no variable names, in the encoded message too', () => {
  for (const d of [literal, named]) {
    const m = toWireDestination(d);
    const bytes = Buffer.from(Destination.encode(m).finish()).toString('latin1');
    for (const s of [SECRET, KEY_ID, 'COORD_AK', 'COORD_SK']) assert.not.ok(bytes.includes(s), s);
    assert.not.ok(JSON.stringify(Destination.toJSON(m)).includes(SECRET));
    if (m.kind?.$case !== 's3') throw new Error('s3');
    assert.is(m.kind.value.bucket, 'backups');
  }
  assert.equal(Object.keys(withoutCredentials(literal)).sort(), ['bucket', 'endpoint', 'forcePathStyle', 'partSizeMiB', 'prefix', 'queueSize', 'region', 'type']);
  const local = parseDestinationConfig({ type: 'local', path: '/b' });
  assert.is(withoutCredentials(local), local);
});

test("a plan sent with a fleet file's literal keys leaves none in the agent's state.json", () => {
  const plan = BackupPlan.decode(BackupPlan.encode({ ...localPlan('set-1', '/unused', 60_000), destination: toWireDestination(literal) }).finish());
  const store = new StateStore(join(dir, 'state'));
  const rec = preparedRecord(parsePlan(plan), Date.now());
  store.save({ version: 2, current: rec.plan.backupId, backups: { [rec.plan.backupId]: rec } });
  const text = readFileSync(store.file, 'utf8');
  assert.not.ok(text.includes(SECRET) || text.includes(KEY_ID));
  assert.match(text, /"bucket": "backups"/);
});

test('a state.json an older agent wrote with keys is read without them, and saved without them', () => {
  const store = new StateStore(join(dir, 'old'));
  const rec = preparedRecord(parsePlan(localPlan('set-1', '/unused', 60_000)), Date.now());
  const old = { ...rec, plan: { ...rec.plan, destination: literal } };
  writeFileSync(store.file, JSON.stringify({ version: 2, current: null, backups: { [rec.plan.backupId]: old } }));
  const loaded = store.load();
  assert.not.ok(JSON.stringify(loaded).includes(SECRET));
  store.save(loaded);
  assert.not.ok(readFileSync(store.file, 'utf8').includes(SECRET));
});

test('the shared-credentials format: a profile, its two keys, comments; messages name the line, never a value', () => {
  const text = `# tandem's keys\n[other]\naws_access_key_id = X\naws_secret_access_key = Y\n\n[default]\n; MinIO\naws_access_key_id=${KEY_ID}\n aws_secret_access_key = ${SECRET} \n`;
  assert.equal(parseCredentialsFile(text, '/f'), { accessKeyId: KEY_ID, secretAccessKey: SECRET });
  assert.equal(parseCredentialsFile(text, '/f', 'other'), { accessKeyId: 'X', secretAccessKey: 'Y' });
  assert.equal(parseCredentialsFile('[t]\naws_access_key_id=a\naws_secret_access_key=b\naws_session_token=c\n', '/f', 't'), { accessKeyId: 'a', secretAccessKey: 'b', sessionToken: 'c' });
  const cases: [string, RegExp][] = [
    [`${KEY_ID}\n${SECRET}\n`, /\/f:1: not a "\[profile\]" or "key = value" line/],
    [`aws_access_key_id = ${KEY_ID}\n`, /\/f:1: aws_access_key_id comes before any \[profile\] line: start the file with \[default\]/],
    [`[default]\naws_access_key_id = ${KEY_ID}\n`, /\[default\] has no aws_secret_access_key/],
    ['[x]\naws_access_key_id = a\n', /no \[default\] profile \(it has \[x\]\).*destinationCredentials\.s3\.profile/],
    ['[default]\n[default]\n', /\/f:2: profile \[default\] appears twice/],
    ['', /no \[default\] profile/],
  ];
  for (const [t, re] of cases) {
    assert.throws(() => parseCredentialsFile(t, '/f'), (e: Error) => e instanceof ConfigError && re.test(e.message) && !e.message.includes(SECRET) && !e.message.includes(KEY_ID), t);
  }
});

test('the credentials file must be readable by its owner only, a regular file, not a link', () => {
  const file = join(dir, 's3-credentials');
  writeFileSync(file, `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET}\n`, { mode: 0o600 });
  assert.equal(readCredentialsFile(file), { accessKeyId: KEY_ID, secretAccessKey: SECRET });
  chmodSync(file, 0o400);
  assert.is(readCredentialsFile(file).accessKeyId, KEY_ID);
  for (const mode of [0o640, 0o604, 0o644]) {
    chmodSync(file, mode);
    assert.throws(() => readCredentialsFile(file), new RegExp(`has mode 0${mode.toString(8)}, readable by others than its owner: run chmod 600 ${file}`));
  }
  chmodSync(file, 0o600);
  const link = join(dir, 'link');
  symlinkSync(file, link);
  assert.throws(() => readCredentialsFile(link), /is a symbolic link/);
  assert.throws(() => readCredentialsFile(join(dir, 'missing')), /missing does not exist/);
  assert.throws(() => readCredentialsFile(dir), /not a regular file/);
});

test('the agent config takes variables or a file (not both, not half), and nothing means the SDK chain', () => {
  const base = { node: 'node1', listen: '127.0.0.1:0', roles: { files: { store: 'localfs', location: '/srv' } } };
  const parse = (c: unknown) => agentConfigSchema().safeParse({ ...base, destinationCredentials: c });
  assert.equal(parse(undefined).data?.destinationCredentials, {});
  assert.equal(parse({ s3: { file: '/etc/tandem/s3-credentials' } }).data?.destinationCredentials, { s3: { file: '/etc/tandem/s3-credentials', profile: 'default' } });
  assert.ok(parse({ s3: { accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK' } }).success);
  for (const bad of [{ s3: { accessKeyIdEnv: 'AK' } }, { s3: { file: 'rel' } }, { s3: { file: '/f', accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK' } }, { s3: { accessKeyId: KEY_ID, secretAccessKey: SECRET } }, { s3: { accessKeyIdEnv: 'A-B', secretAccessKeyEnv: 'S' } }]) {
    assert.not.ok(parse(bad).success, JSON.stringify(bad));
  }
});

test('keys from variables the agent config names; a missing one says what to set', () => {
  const c = { s3: { accessKeyIdEnv: 'AK', secretAccessKeyEnv: 'SK' } };
  assert.equal(agentS3Keys(c, { AK: 'a', SK: 's' }), { accessKeyId: 'a', secretAccessKey: 's' });
  assert.throws(() => agentS3Keys(c, { AK: 'a' }), /environment variable SK \(the S3 secret access key, named by destinationCredentials\.s3\) is not set or empty in the agent's environment: set it/);
  assert.is(agentS3Keys({}, {}), undefined);
});

test("an agent's S3 destination uses its own keys, never the plan's", async () => {
  const file = join(dir, 'own');
  writeFileSync(file, '[default]\naws_access_key_id = own-id\naws_secret_access_key = own-secret\n', { mode: 0o600 });
  const open = agentDestinationOpener({ s3: { file, profile: 'default' } });
  const dest = open(literal) as S3Destination;
  const creds = await dest.client.config.credentials();
  assert.equal([creds.accessKeyId, creds.secretAccessKey], ['own-id', 'own-secret']);
  // A file made readable by others fails the request that needed the keys, with the fix.
  chmodSync(file, 0o644);
  const broken = open(literal);
  try {
    await broken.checkWritable();
    assert.unreachable('checkWritable should fail');
  } catch (err) {
    assert.match((err as Error).message, /has mode 0644.*chmod 600/);
  }
});

test('an S3 destination with no keys anywhere names what to set', async () => {
  const noKeys = () => {
    const e = new Error('Could not load credentials from any providers');
    e.name = 'CredentialsProviderError';
    return Promise.reject(e);
  };
  const dest = new S3Destination(withoutCredentials(literal) as never, { credentials: noKeys, noCredentialsHint: AGENT_CREDENTIALS_HINT });
  try {
    await dest.checkWritable();
    assert.unreachable('checkWritable should fail');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match((err as Error).message, /no S3 credentials found: set destinationCredentials\.s3 in the agent's config .*AWS_ACCESS_KEY_ID/);
  }
  const coordinator = new S3Destination(withoutCredentials(literal) as never, { credentials: noKeys });
  await coordinator.stat('x').then(
    () => assert.unreachable('stat should fail'),
    (err: Error) => assert.match(err.message, /no S3 credentials found: set destination\.accessKeyIdEnv and destination\.secretAccessKeyEnv in the fleet file/),
  );
});

test('the fleet file may hold a literal secret for the coordinator; readable by others, it is warned about', () => {
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, '{}', { mode: 0o600 });
  const fleet = { destination: literal } as Parameters<typeof literalSecretWarning>[1];
  assert.is(literalSecretWarning(file, fleet), null);
  chmodSync(file, 0o644);
  assert.match(literalSecretWarning(file, fleet) ?? '', /holds destination\.secretAccessKey literally and has mode 0644: run chmod 600/);
  assert.is(literalSecretWarning(file, { destination: named } as typeof fleet), null);
});

test.run();
