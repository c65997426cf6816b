/**
 * The remote side of a streamed upload and download, run by a local `sh` exactly as the backup
 * host's login shell runs it after ssh: what lands under which name, and how a stream cut short
 * or a hostile name is handled. The ssh leg itself is covered by destination-rsync.test.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CommandError } from '../../shared/errors';
import { runCommand } from '../../shared/exec';
import { EXIT_GET_ABSENT, EXIT_LINK, EXIT_PUT_CUT_SHORT, EXIT_PUT_FAILED, getScript, linkGuard, linkRefusal, putScript, remoteTempName, shQuote } from '../../shared/destination/ssh-stream';
import { mkdirSync, symlinkSync } from 'node:fs';
import { ValidationError } from '../../shared/errors';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

// A folder whose name holds a space, a single quote and shell syntax: quoting must keep it one word.
const root = scratchDirSync("ssh-stream it's $(x) `y` ;");
const marker = randomBytes(32).toString('hex');
const sh = (script: string, input?: Buffer) => runCommand(['sh', '-c', script], input === undefined ? {} : { input });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const s = suite('ssh stream scripts');
s.after(() => removeScratch(root));

s('shQuote keeps any word one word for sh', async () => {
  for (const w of ["it's", 'a b', '$(touch x)', '`id`', "'", '\\', '"; rm -rf /"']) {
    assert.is((await sh(`printf %s ${shQuote(w)}`)).stdout, w);
  }
});

s('an upload with its end marker lands under its final name, marker cut off, no temporary left', async () => {
  const final = join(root, 'set 1', 'node1', 't.tbz');
  const data = randomBytes(300_000);
  const r = await sh(putScript(final, remoteTempName(final), marker), Buffer.concat([data, Buffer.from(marker)]));
  assert.is(r.stdout.trim(), String(data.length), 'the script prints the stored size');
  assert.is(sha(readFileSync(final)), sha(data));
  assert.equal(readdirSync(join(root, 'set 1', 'node1')), ['t.tbz']);
  // Zeros before the marker: the shell drops NUL bytes from a command's output, the check must not.
  const zeros = Buffer.alloc(5000);
  await sh(putScript(final, remoteTempName(final), marker), Buffer.concat([zeros, Buffer.from(marker)]));
  assert.ok(readFileSync(final).equals(zeros));
});

s('a stream cut short (no marker) leaves neither the final name nor the temporary, and an older file intact', async () => {
  const final = join(root, 'set 2', 't.tbz');
  await sh(putScript(final, remoteTempName(final), marker), Buffer.concat([Buffer.from('v1'), Buffer.from(marker)]));
  for (const input of [randomBytes(200_000), Buffer.concat([randomBytes(1000), Buffer.from(marker.slice(0, 63))]), Buffer.alloc(0)]) {
    const e = await sh(putScript(final, remoteTempName(final), marker), input).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof CommandError && e.exitCode === EXIT_PUT_CUT_SHORT, String(e));
    assert.equal(readdirSync(join(root, 'set 2')), ['t.tbz']);
    assert.is(readFileSync(final, 'utf8'), 'v1');
  }
});

s('a file that cannot be written fails with its own code and leaves nothing', async () => {
  const blocker = join(root, 'not-a-folder');
  writeFileSync(blocker, 'x');
  const final = join(blocker, 't.tbz');
  const e = await sh(putScript(final, remoteTempName(final), marker), Buffer.from(marker)).then(() => null, (x: unknown) => x);
  assert.ok(e instanceof CommandError && e.exitCode === EXIT_PUT_FAILED && /Not a directory|File exists/.test(e.stderrTail), String(e));
  assert.ok(!existsSync(final));
});

s('an end marker must be 64 hex characters (it is compared inside the remote command)', () => {
  assert.throws(() => putScript('/a/b', '/a/.b.x.partial', "'; rm -rf / #"), /64 hex/);
});

s('a download reads from any byte, and a missing file exits with its own code', async () => {
  const file = join(root, 'get me.tbz');
  const data = randomBytes(100_000);
  writeFileSync(file, data);
  const whole = await runCommand(['sh', '-c', `${getScript(file, 0)} | sha256sum`]);
  assert.is(whole.stdout.split(' ')[0], sha(data));
  const tail = await runCommand(['sh', '-c', `${getScript(file, 99_990)} | wc -c`]);
  assert.is(tail.stdout.trim(), '10');
  const e = await sh(getScript(join(root, 'absent'), 0)).then(() => null, (x: unknown) => x);
  assert.ok(e instanceof CommandError && e.exitCode === EXIT_GET_ABSENT, String(e));
});

s('a link at any level below the root stops an upload and a download before they touch it, naming the link', async () => {
  const outside = join(root, 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret'), 'root-only bytes');
  const dest = join(root, 'dest');
  mkdirSync(join(dest, 'set-1'), { recursive: true });
  // A node folder that is a link to a folder outside the destination.
  symlinkSync(outside, join(dest, 'set-1', 'node2'));
  const rel = 'set-1/node2/cassandra/t.tbz';
  const final = join(dest, rel);
  const put = await sh(putScript(final, remoteTempName(final), marker, linkGuard(dest, rel)), Buffer.concat([Buffer.from('planted'), Buffer.from(marker)])).then(() => null, (e: unknown) => e);
  assert.instance(put, CommandError);
  assert.is((put as CommandError).exitCode, EXIT_LINK);
  assert.equal(readdirSync(outside), ['secret'], 'nothing made through the link');
  const refused = linkRefusal(put, 'rsync://u@h:22/dest');
  assert.instance(refused, ValidationError);
  assert.match((refused as Error).message, new RegExp(`"${join(dest, 'set-1', 'node2').replace(/[$()`'.]/g, '\\$&')}" is a symbolic link on the backup host: refused`));
  // A file that is a link: a download reads nothing through it.
  symlinkSync(join(outside, 'secret'), join(dest, 'set-1', 'manifest.json'));
  const get = await sh(getScript(join(dest, 'set-1', 'manifest.json'), 0, linkGuard(dest, 'set-1/manifest.json'))).then(() => null, (e: unknown) => e);
  assert.is((get as CommandError).exitCode, EXIT_LINK);
  assert.not.match((get as CommandError).stderrTail + String((get as CommandError).message), /root-only bytes/);
  // Without a link on the path the guard lets the command run; the root itself may be a link.
  symlinkSync(dest, join(root, 'dest-link'));
  const ok = await sh(getScript(join(root, 'dest-link', 'set-1', 'x'), 0, linkGuard(join(root, 'dest-link'), 'set-1/x'))).then(() => null, (e: unknown) => e);
  assert.is((ok as CommandError).exitCode, EXIT_GET_ABSENT, 'absent, not refused');
});

s.run();
