/**
 * Sending a stream again after an interrupted upload: the files role's putHashed reopens its
 * source and the stored bytes and sha256 are those of one whole read. The destination is a local
 * folder behind the Destination interface, whose first upload breaks off as a dropped ssh
 * connection does (the rsync destination itself is tested against sshd in destination-rsync).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { LocalDestination, producedAndPut, retryStreamedPut, type Destination, type PutOptions } from '../../shared/destination';
import { TransferInterruptedError, ValidationError } from '../../shared/errors';
import { putHashed } from '../../agent/roles/files/copy';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const root = scratchDirSync('streamed-put');
test.after(() => removeScratch(root));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A local destination whose first `breaks` uploads read 100 KB and then fail as a cut connection. */
function breakingDestination(breaks: number): Destination & { puts: number } {
  const local = new LocalDestination({ type: 'local', path: root });
  const d = Object.create(local) as Destination & { puts: number };
  d.puts = 0;
  d.put = async (rel: string, source: string | Readable, opts?: PutOptions) => {
    d.puts++;
    if (d.puts > breaks || typeof source === 'string') return local.put(rel, source, opts);
    let seen = 0;
    for await (const c of source) if ((seen += (c as Buffer).length) > 100_000) break;
    (source as Readable).destroy(new Error('connection closed'));
    throw new TransferInterruptedError(`upload of ${rel} was cut short`);
  };
  return d;
}

test('putHashed opens its source again after an interrupted upload; size and sha256 are of the whole file', async () => {
  const data = randomBytes(1_000_000);
  const d = breakingDestination(1);
  const opened: number[] = [];
  const r = await putHashed(d, 's1/n1/files/data/a', (attempt) => {
    opened.push(attempt);
    return Readable.from([data.subarray(0, 400_000), data.subarray(400_000)]);
  }, new AbortController().signal);
  assert.equal(opened, [1, 2]);
  assert.equal(r, { size: data.length, sha256: sha(data) });
  assert.is(sha(readFileSync(join(root, 's1/n1/files/data/a'))), sha(data));
});

test('retryStreamedPut gives up after its attempts, with the interruption', async () => {
  const d = breakingDestination(5);
  await retryStreamedPut(() => d.put('s2/a', Readable.from([randomBytes(300_000)])), { attempts: 3, baseDelayMs: 1 }).then(
    () => assert.unreachable(),
    (e) => assert.instance(e, TransferInterruptedError),
  );
  assert.is(d.puts, 3);
});

test('other failures are not retried, and producedAndPut waits for both sides and names the root cause', async () => {
  let calls = 0;
  await retryStreamedPut(async () => {
    calls++;
    throw new ValidationError('upload of x has 3 bytes, expected 4');
  }, { baseDelayMs: 1 }).then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
  assert.is(calls, 1);
  // The producer fails first (its own error), the upload then fails only as a consequence.
  const producerErr = new Error('compressor died');
  let putSettled = false;
  const put = new Promise((_, reject) => setTimeout(() => { putSettled = true; reject(new Error('premature close')); }, 20));
  await producedAndPut(Promise.reject(producerErr), put).then(() => assert.unreachable(), (e) => assert.is(e, producerErr));
  assert.ok(putSettled, 'the upload had ended before the error was thrown');
  // An interrupted upload wins over what the producer saw of the broken stream.
  const cut = new TransferInterruptedError('cut short');
  await producedAndPut(Promise.reject(new Error('write after end')), Promise.reject(cut)).then(() => assert.unreachable(), (e) => assert.is(e, cut));
});

test.run();
