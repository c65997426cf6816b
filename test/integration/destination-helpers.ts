/**
 * Shared integration suite for real destinations.
 * Not a test file itself (no .test suffix): the rsync and s3 test files call destinationSuite().
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as assert from 'uvu/assert';
import type { Test } from 'uvu';
import { NotFoundError, ValidationError } from '../../shared/errors';
import { AlreadyExistsError, VersionMismatchError, type Destination } from '../../shared/destination';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

/** Reads a stream to a Buffer. */
export async function slurp(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stream of `total` pseudo-random bytes in 64 KiB chunks (unknown size to the consumer), plus its hash. */
function randomStream(total: number): { stream: Readable; data: Buffer } {
  const data = randomBytes(total);
  const chunks: Buffer[] = [];
  for (let o = 0; o < total; o += 65536) chunks.push(data.subarray(o, o + 65536));
  return { stream: Readable.from(chunks), data };
}

/** Registers the common put/list/stat/get/remove/writeAtomic/checkWritable tests on `suite`. */
export function destinationSuite(suite: Test, getDest: () => Destination): void {
  // A fresh backup id per run so concurrent or leftover runs never collide.
  const id = `it-${Date.now()}-${randomBytes(3).toString('hex')}`;
  const work = scratchDirSync('dest-it');
  const big = randomBytes(20 * 1024 * 1024);
  const bigFile = join(work, 'big.tbz');
  writeFileSync(bigFile, big);
  const streamed = randomStream(5 * 1024 * 1024 + 12345);

  suite.after(async () => {
    removeScratch(work);
    // getDest() throws when the sandbox is not up: the tests report that, not the clean-up.
    await Promise.resolve().then(() => getDest().remove(id)).catch(() => undefined);
  });

  suite('checkWritable passes', async () => {
    await getDest().checkWritable();
  });

  suite('put a 20 MB file and a stream', async () => {
    const d = getDest();
    const r1 = await d.put(`${id}/node1/thehive/big.tbz`, bigFile, { size: big.length });
    assert.is(r1.size, big.length);
    const r2 = await d.put(`${id}/node2/thehive/streamed.tbz`, streamed.stream);
    assert.is(r2.size, streamed.data.length);
    await d.writeAtomic(`${id}/manifest.json`, JSON.stringify({ id, v: 1 }));
    await d.writeAtomic(`${id}/manifest.json`, JSON.stringify({ id, v: 2 }));
  });

  suite('stat and list', async () => {
    const d = getDest();
    assert.equal(await d.stat(`${id}/node1/thehive/big.tbz`), { size: big.length });
    assert.is(await d.stat(`${id}/node1/thehive/absent.tbz`), null);
    const manifestSize = Buffer.byteLength(JSON.stringify({ id, v: 2 }));
    assert.equal(await d.list(id), [
      { path: `${id}/manifest.json`, size: manifestSize },
      { path: `${id}/node1/thehive/big.tbz`, size: big.length },
      { path: `${id}/node2/thehive/streamed.tbz`, size: streamed.data.length },
    ]);
    assert.equal(await d.list(`${id}/node2/`), [{ path: `${id}/node2/thehive/streamed.tbz`, size: streamed.data.length }]);
    assert.equal(await d.list(`${id}-nothing`), []);
  });

  suite('folders and newestChange', async () => {
    const d = getDest();
    assert.ok((await d.folders('')).includes(id), 'the set is a folder of the root');
    assert.equal(await d.folders(id), ['node1', 'node2']);
    assert.equal(await d.folders(`${id}-nothing`), []);
    const newest = await d.newestChange(id);
    // Clocks of the store and this host may differ a little; an hour is far beyond that.
    assert.ok(newest !== null && Math.abs(newest - Date.now()) < 3_600_000, String(newest));
    assert.is(await d.newestChange(`${id}-nothing`), null);
  });

  suite('get returns identical bytes', async () => {
    const d = getDest();
    assert.is(sha(await slurp(await d.get(`${id}/node1/thehive/big.tbz`))), sha(big));
    assert.is(sha(await slurp(await d.get(`${id}/node2/thehive/streamed.tbz`))), sha(streamed.data));
    assert.equal(JSON.parse((await slurp(await d.get(`${id}/manifest.json`))).toString()), { id, v: 2 });
    await d.get(`${id}/absent.tbz`).then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
  });

  suite('readSmall reads whole under its cap, refuses past it without telling the size, NotFoundError when absent', async () => {
    const d = getDest();
    const manifest = Buffer.from(JSON.stringify({ id, v: 2 }));
    assert.ok((await d.readSmall(`${id}/manifest.json`, manifest.length)).equals(manifest));
    assert.ok((await d.readSmall(`${id}/manifest.json`, 1 << 20)).equals(manifest));
    const refused = (e: unknown) => assert.ok(e instanceof ValidationError && /larger than the 1000 bytes/.test(e.message) && !e.message.includes(String(big.length)), String(e));
    await d.readSmall(`${id}/node1/thehive/big.tbz`, 1000).then(() => assert.unreachable(), refused);
    await d.readSmall(`${id}/absent.json`, 1000).then(() => assert.unreachable(), (e) => assert.instance(e, NotFoundError));
    await d.writeAtomic(`${id}/empty.json`, '');
    assert.is((await d.readSmall(`${id}/empty.json`, 10)).length, 0);
    await d.remove(`${id}/empty.json`);
  });

  suite('conditional writes: of two creates one wins; a replace holds only for the version read (the destination lock stands on these)', async () => {
    const d = getDest();
    const file = `${id}/lease.json`;
    const created = await Promise.allSettled([d.createExclusive(file, 'one\n'), d.createExclusive(file, 'two\n')]);
    assert.is(created.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(created.map((r) => r.status)));
    const lost = created.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    assert.instance(lost.reason, AlreadyExistsError);
    const v1 = await d.readVersioned(file, 100);
    assert.ok(v1);
    assert.is(v1.version, (created.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<string>).value, 'the version create returned is the one read');
    const v2 = await d.replaceIf(file, 'three\n', v1.version);
    assert.is((await d.readSmall(file, 100)).toString(), 'three\n');
    await d.replaceIf(file, 'stale\n', v1.version).then(() => assert.unreachable('a stale version replaced it'), (e) => assert.instance(e, VersionMismatchError));
    assert.is((await d.readSmall(file, 100)).toString(), 'three\n', 'a refused replace changes nothing');
    const both = await Promise.allSettled([d.replaceIf(file, 'x\n', v2), d.replaceIf(file, 'y\n', v2)]);
    assert.ok(both.filter((r) => r.status === 'fulfilled').length <= 1, 'two replaces of one version: never both');
    await d.replaceIf(`${id}/absent-lease.json`, 'x', v2).then(() => assert.unreachable(), (e) => assert.instance(e, VersionMismatchError));
    assert.is(await d.readVersioned(`${id}/absent-lease.json`, 100), null);
    assert.equal((await d.list(id)).map((e) => e.path).filter((p) => p.includes('lease')), [file], 'no staged or guard file is listed');
    await d.remove(file);
  });

  suite('unsafe paths are refused before any I/O', async () => {
    await getDest().put('../escape.tbz', bigFile).then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
    await getDest().remove('').then(() => assert.unreachable(), (e) => assert.instance(e, ValidationError));
  });

  suite('remove is recursive and idempotent', async () => {
    const d = getDest();
    await d.remove(id);
    assert.equal(await d.list(id), []);
    assert.is(await d.stat(`${id}/manifest.json`), null);
    await d.remove(id);
  });
}
