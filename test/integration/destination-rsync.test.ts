/** Integration tests of RsyncDestination against the sandbox's real sshd. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PreconditionError } from '../../shared/errors';
import { RsyncDestination, parseDestinationConfig, openDestination } from '../../shared/destination';
import type { Destination, RsyncDestinationConfig } from '../../shared/destination';
import { destinationSuite } from './destination-helpers';
import { needSandbox, sandboxEnvOrNull, type SandboxEnv } from '../helpers/sandbox';

/** The destination under test on the sandbox's sshd, and what it was built from. */
function onSshd(env: SandboxEnv) {
  const config = parseDestinationConfig({
    type: 'rsync',
    host: env.sshd.host,
    port: env.sshd.port,
    user: env.sshd.user,
    path: env.sshd.backupHostDir,
    identityFile: env.sshd.keyPath,
    knownHostsFile: env.sshd.knownHosts,
  }) as RsyncDestinationConfig;
  const dest: Destination = openDestination(config);
  return { env, config, dest };
}

const env = sandboxEnvOrNull();
const built = env ? onSshd(env) : null;
/** What a test uses; the test fails here when the sandbox is not up. */
function sshd() {
  needSandbox(built);
  return built;
}

const s = suite('rsync destination');
destinationSuite(s, () => sshd().dest);

s('describe names user, host, port and folder', () => {
  const { env, dest } = sshd();
  assert.is(dest.describe(), `rsync://${env.sshd.user}@${env.sshd.host}:${env.sshd.port}${env.sshd.backupHostDir}`);
});

s('an aborted upload is never listed, and the next put resumes from the partial file', async () => {
  const { config, dest } = sshd();
  const { randomBytes } = await import('node:crypto');
  const { Readable } = await import('node:stream');
  const data = randomBytes(8 * 1024 * 1024);
  const slow = new RsyncDestination({ ...config, bwlimitKBps: 2048 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 1500);
  await slow.put('it-resume/n1/t.tbz', Readable.from([data]), { signal: ac.signal }).then(
    () => assert.unreachable('the 4 s upload should have been aborted'),
    (e) => assert.is((e as Error).name, 'AbortError'),
  );
  assert.equal(await dest.list('it-resume'), [], 'the partial transfer is hidden');
  assert.is(await dest.stat('it-resume/n1/t.tbz'), null);
  assert.equal(await dest.put('it-resume/n1/t.tbz', Readable.from([data])), { size: data.length });
  assert.equal(await dest.list('it-resume'), [{ path: 'it-resume/n1/t.tbz', size: data.length }]);
  await dest.remove('it-resume');
});

s('checkWritable says what to fix', async () => {
  const { config } = sshd();
  const fail = async (over: Partial<RsyncDestinationConfig>, re: RegExp) => {
    const d = new RsyncDestination({ ...config, ...over }, { attempts: 1 });
    await d.checkWritable().then(
      () => assert.unreachable(),
      (e) => assert.ok(e instanceof PreconditionError && re.test(e.message), String(e)),
    );
  };
  await fail({ path: `${config.path}/does-not-exist` }, /does not exist .*create it/);
  await fail({ knownHostsFile: '/dev/null' }, /host key is unknown/);
  await fail({ port: 1 }, /not reachable/);
});

s.run();
