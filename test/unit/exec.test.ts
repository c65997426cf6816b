/** The one command runner, with real programs: streaming, exit codes with the stderr tail, abort. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { text } from 'node:stream/consumers';
import { CommandError } from '../../shared/errors';
import { runCommand, spawnProcess } from '../../shared/exec';

test('spawnProcess streams stdin to stdout and resolves done on exit 0', async () => {
  const p = spawnProcess(['cat']);
  p.stdin.end('through cat\n');
  assert.is(await text(p.stdout), 'through cat\n');
  await p.done;
});

test('a non-zero exit rejects with CommandError carrying the exit code and the stderr tail', async () => {
  const p = spawnProcess(['sh', '-c', 'echo "bad input" >&2; exit 3']);
  p.stdin.end();
  const err = await p.done.catch((e: Error) => e);
  assert.instance(err, CommandError);
  assert.is((err as CommandError).exitCode, 3);
  assert.match((err as CommandError).stderrTail, /bad input/);
  assert.match(p.stderrTail(), /bad input/);
  const missing = await spawnProcess(['/nonexistent/tandem-test-program']).done.catch((e: Error) => e);
  assert.match((missing as Error).message, /cannot run \/nonexistent\/tandem-test-program/);
});

test('an abort kills the program, for both runners; an aborted signal runs nothing to its end', async () => {
  const ac = new AbortController();
  const p = spawnProcess(['sleep', '30'], { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  const err = (await p.done.catch((e: Error) => e)) as CommandError;
  assert.is(err.signal, 'SIGTERM');
  const started = Date.now();
  const r = await runCommand(['sleep', '30'], { signal: AbortSignal.abort() }).catch((e: Error) => e);
  assert.instance(r, CommandError);
  assert.ok(Date.now() - started < 5000);
  const out = await runCommand(['sh', '-c', 'echo out; exit 2'], { okCodes: [0, 2] });
  assert.equal(out, { stdout: 'out\n', stderr: '', exitCode: 2 });
});

test.run();
