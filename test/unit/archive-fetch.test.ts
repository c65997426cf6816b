/** Archives read back from a destination: size and sha256 checked before any byte is extracted, sizes bounded up front. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PreconditionError, ValidationError } from '../../shared/errors';
import { checkFreeSpace, fetchChecked } from '../../agent/archive/fetch';
import { restoreCassandra } from '../../agent/roles/cassandra/restore';
import type { CassandraSettings } from '../../agent/roles/cassandra/config';
import { plantCassandraSet } from '../helpers/backup-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const base = scratchDirSync('archive-fetch');
test.after(() => removeScratch(base));
let n = 0;
const fresh = () => join(base, `case-${++n}`);
const fetchPhase = (ctx: Parameters<typeof restoreCassandra>[2]) => restoreCassandra({} as CassandraSettings, 'fetch', ctx);

test('an untouched set is fetched, checked and extracted', async () => {
  const { ctx, tableDir, workDir } = await plantCassandraSet(fresh());
  const out = await fetchPhase(ctx);
  assert.match(out?.detail ?? '', /1 table fetched and checked/);
  assert.equal(readdirSync(tableDir), ['nb-1-big-Data.db']);
  assert.not.ok(readdirSync(join(workDir, 'node1')).some((f) => f.endsWith('.archive')), 'the downloaded archive is removed');
});

test('an archive replaced at the destination is refused before anything is extracted', async () => {
  // A valid tar of the right size with other bytes: only the sha256 tells.
  const { ctx, tableDir, workDir } = await plantCassandraSet(fresh(), { archiveBody: (a) => Buffer.from(a.toString('latin1').replace('datadata', 'DATADATA'), 'latin1') });
  const err = await fetchPhase(ctx).catch((e: Error) => e);
  assert.instance(err, ValidationError);
  assert.match(String(err), /sha256 .* refused before extracting/);
  assert.not.ok(existsSync(tableDir), 'no table folder');
  assert.not.ok(readdirSync(join(workDir, 'node1')).some((f) => f.endsWith('.archive')), 'the download is removed');
});

test('an archive larger than recorded is not downloaded past its recorded size', async () => {
  const { ctx, tableDir } = await plantCassandraSet(fresh(), { archiveBody: (a) => Buffer.concat([a, Buffer.alloc(1 << 20)]) });
  const err = await fetchPhase(ctx).catch((e: Error) => e);
  assert.match(String(err), /larger than the \d+ bytes the manifest records; refused before extracting/);
  assert.not.ok(existsSync(tableDir));
});

test('an archive yielding more bytes than contents.json records stops extracting', async () => {
  const { ctx, tableDir } = await plantCassandraSet(fresh(), { recordedSize: 2 });
  const err = await fetchPhase(ctx).catch((e: Error) => e);
  assert.instance(err, ValidationError);
  assert.match(String(err), /refusing archive entry "nb-1-big-Data.db": size 400 exceeds the per-entry limit of 2 bytes/);
  assert.not.ok(existsSync(tableDir));
});

test('fetchChecked keeps nothing when the sha256 differs', async () => {
  const { ctx } = await plantCassandraSet(fresh());
  const t = ctx.manifest.nodes[0].parts.cassandra!.tables[0];
  const file = join(base, 'fetched.tar');
  await fetchChecked(ctx.destination, t, file);
  assert.ok(existsSync(file));
  const err = await fetchChecked(ctx.destination, { ...t, sha256: '0'.repeat(64) }, file).catch((e: Error) => e);
  assert.instance(err, ValidationError);
  assert.not.ok(existsSync(file));
});

test('recorded sizes beyond the free space are refused before the first download', async () => {
  const err = await checkFreeSpace(base, Number.MAX_SAFE_INTEGER, 'fetching 9 table archives').catch((e: Error) => e);
  assert.instance(err, PreconditionError);
  assert.match(String(err), /fetching 9 table archives needs .* which has .* free/);
  await checkFreeSpace(base, 1, 'one byte');
});

test.run();
