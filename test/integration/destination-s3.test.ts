/** Integration tests of S3Destination against the sandbox's real MinIO. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PreconditionError } from '../../shared/errors';
import { S3Destination, parseDestinationConfig, openDestination } from '../../shared/destination';
import type { S3DestinationConfig } from '../../shared/destination';
import { destinationSuite } from './destination-helpers';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { storedUnder } from '../helpers/debris';
import { needSandbox, sandboxEnvOrNull, type SandboxEnv } from '../helpers/sandbox';

/** The destination under test on the sandbox's MinIO, and what it was built from. */
function onMinio(env: SandboxEnv) {
  // Keys come through environment variables, as an operator should configure them.
  process.env.TANDEM_IT_S3_KEY = env.minio.accessKey;
  process.env.TANDEM_IT_S3_SECRET = env.minio.secretKey;
  const config = parseDestinationConfig({
    type: 's3',
    endpoint: env.minio.endpoint,
    bucket: env.minio.backupBucket,
    prefix: 'integration-tests',
    region: env.minio.region,
    accessKeyIdEnv: 'TANDEM_IT_S3_KEY',
    secretAccessKeyEnv: 'TANDEM_IT_S3_SECRET',
    // Small parts so the 20 MB file really goes up as a parallel multipart upload.
    partSizeMiB: 5,
  }) as S3DestinationConfig;
  return { env, config, dest: openDestination(config) as S3Destination };
}

const env = sandboxEnvOrNull();
const built = env ? onMinio(env) : null;
/** What a test uses; the test fails here when the sandbox is not up. */
function minio() {
  needSandbox(built);
  return built;
}

const s = suite('s3 destination');
destinationSuite(s, () => minio().dest);

s('multipart upload returns an ETag', async () => {
  const { dest } = minio();
  const { Readable } = await import('node:stream');
  const r = await dest.put('it-etag/x.tbz', Readable.from([Buffer.alloc(11 * 1024 * 1024, 7)]));
  assert.is(r.size, 11 * 1024 * 1024);
  assert.match(r.etag ?? '', /-3"?$/, 'three 5 MiB parts');
  await dest.remove('it-etag');
});

s('an upload whose process was killed mid-way leaves a multipart upload that no listing shows; removing its set aborts it', async () => {
  const { config, dest } = minio();
  const set = `it-killed-${Date.now().toString(36)}`;
  const holder = spawn(process.execPath, [join(__dirname, '../helpers/hold-upload.js'), JSON.stringify(config), `${set}/n1/t.tbz`], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  try {
    const said = await new Promise<string>((resolve) => {
      holder.stdout.once('data', (d: Buffer) => resolve(d.toString()));
      holder.once('exit', (code) => resolve(`exited with ${code}`));
    });
    assert.is(said.trim(), 'parts up');
  } finally {
    const gone = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await gone;
  }
  assert.equal(await dest.list(set), [], 'no object: the upload never completed');
  const before = await storedUnder(config, set);
  assert.is(before.uploads.length, 1, `the killed upload is still in progress: ${JSON.stringify(before)}`);
  await dest.remove(set);
  const after = await storedUnder(config, set);
  assert.equal(after, { files: [], uploads: [] });
});

s('checkWritable says what to fix', async () => {
  const { config } = minio();
  const fail = async (over: Partial<S3DestinationConfig>, re: RegExp) => {
    const d = new S3Destination({ ...config, ...over });
    await d.checkWritable().then(
      () => assert.unreachable(),
      (e) => assert.ok(e instanceof PreconditionError && re.test(e.message), String(e)),
    );
  };
  await fail({ bucket: 'tandem-no-such-bucket' }, /does not exist: create it/);
  await fail({ accessKeyIdEnv: undefined, secretAccessKeyEnv: undefined, accessKeyId: 'wrong', secretAccessKey: 'wrongwrong' }, /denied: check the access keys/);
  await fail({ endpoint: 'http://127.0.0.1:1' }, /cannot reach/);
});

s('describe has no secrets', () => {
  const { env, dest } = minio();
  assert.not.match(dest.describe(), env.minio.secretKey);
});

s.run();
