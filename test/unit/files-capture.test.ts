/**
 * The file store's capture on real folders: each new, changed and removed file journaled once,
 * a restart resuming where it stopped, the folder's state at an instant between two changes,
 * links refused, edited journal lines refused.
 */
import { readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureJournalPath, captureObjectPath } from '../../shared/destination/layout';
import { FilesProgressStore } from '../../agent/roles/files/capture/progress';
import { makeCaptureCerts, type CaptureCerts } from '../helpers/capture-certs';
import { failure } from '../helpers/capture-node';
import { filesCaptureNode } from '../helpers/files-capture-node';
import { scratchDirSync } from '../helpers/scratch';

let certs: CaptureCerts;
test.before(async () => {
  certs = await makeCaptureCerts();
  await certs.signing('files1');
});

const journal = (dest: string, n = 1) => readFileSync(join(dest, captureJournalPath('thehive', 'files1', n)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const objects = (dest: string) => readdirSync(join(dest, 'tandem_capture/thehive/files1/files/objects'));

test('new, changed and removed files are journaled once each, under random object names', async () => {
  const n = filesCaptureNode(certs);
  n.write('aa/bb/one', 'first');
  n.write('aa/cc/two', 'second');
  const c = n.capture();
  let r = await c.look();
  assert.equal(r.stored.sort(), ['aa/bb/one', 'aa/cc/two']);
  assert.equal((await c.look()).stored, [], 'nothing changed: nothing stored');
  n.write('aa/bb/one', 'first, changed');
  unlinkSync(join(n.dirs.store, 'aa/cc/two'));
  r = await c.look();
  assert.equal([r.stored, r.removed], [['aa/bb/one'], ['aa/cc/two']]);
  assert.equal(await c.look(), { stored: [], removed: [], refused: [], retried: [] });
  const lines = journal(n.dirs.dest);
  assert.equal(lines.map((l) => [l.seq, l.kind, l.path]), [[1, 'put', 'aa/bb/one'], [2, 'put', 'aa/cc/two'], [3, 'put', 'aa/bb/one'], [4, 'remove', 'aa/cc/two']]);
  assert.equal(objects(n.dirs.dest).length, 3);
  for (const o of objects(n.dirs.dest)) assert.match(o, /^[0-9a-f]{32}$/);
  const put = lines[2];
  assert.is(readFileSync(join(n.dirs.dest, captureObjectPath('thehive', 'files1', put.object as string)), 'utf8'), 'first, changed');
  assert.equal([put.size, typeof put.sha256, typeof put.mtime, typeof put.storedAt, typeof put.sig], [14, 'string', 'string', 'string', 'string']);
  const state = await n.reader().filesAt(n.clock.t);
  assert.equal([...state.keys()], ['aa/bb/one']);
});

test('a restart resumes from the progress file: nothing stored twice, nothing missed, and a crashed batch\'s objects removed', async () => {
  const n = filesCaptureNode(certs);
  n.write('a', 'A');
  await n.capture().look();
  n.write('b', 'B');
  // A crash in the middle of a batch: an object stored that no line names yet.
  const store = new FilesProgressStore(n.dirs.state);
  const orphan = 'f'.repeat(32);
  store.save({ ...store.load(), pending: [orphan] });
  writeFileSync(join(n.dirs.dest, captureObjectPath('thehive', 'files1', orphan)), 'half');
  const again = n.capture();
  const r = await again.look();
  assert.equal(r.stored, ['b']);
  assert.not.ok(objects(n.dirs.dest).includes(orphan), 'the unfinished batch\'s object is removed');
  assert.equal(journal(n.dirs.dest).map((l) => [l.seq, l.path]), [[1, 'a'], [2, 'b']]);
  assert.equal((await n.capture().look()).stored, []);
  assert.equal(objects(n.dirs.dest).length, 2);
  // A progress file moved aside while the destination holds journals: refused, rather than numbering lines from 1 again.
  rmSync(store.file);
  assert.match(await failure(n.capture().look()), /journal-00000001\.ndjson is there, and this agent's progress .* knows no journal/);
});

test('the state at an instant between two changes is the one then, and its copy checks', async () => {
  const n = filesCaptureNode(certs);
  const c = n.capture();
  n.write('x/report.pdf', 'version 1');
  n.write('y/keep', 'kept');
  await c.look();
  const t1 = n.clock.t;
  n.clock.t += 60_000;
  n.write('x/report.pdf', 'version 2, longer');
  await c.look();
  n.clock.t += 60_000;
  unlinkSync(join(n.dirs.store, 'x/report.pdf'));
  await c.look();
  const reader = n.reader();
  const between = await reader.filesAt(t1 + 30_000);
  assert.equal([...between.keys()].sort(), ['x/report.pdf', 'y/keep']);
  const out = await reader.copyTo(between, n.dirs.out);
  assert.equal(out, { files: 2, bytes: 13 });
  assert.is(readFileSync(join(n.dirs.out, 'x/report.pdf'), 'utf8'), 'version 1');
  assert.equal([...(await reader.filesAt(t1 + 90_000)).keys()], ['x/report.pdf', 'y/keep']);
  assert.is((await reader.filesAt(t1 + 90_000)).get('x/report.pdf')!.size, 17);
  assert.equal([...(await reader.filesAt(n.clock.t)).keys()], ['y/keep']);
  assert.equal((await reader.filesAt(t1 - 1)).size, 0);
  assert.match(await failure(reader.copyTo(between, n.dirs.out)), /not an empty folder/);
});

test('links in the folder are refused by name and never followed', async () => {
  const n = filesCaptureNode(certs);
  const outside = scratchDirSync('outside');
  writeFileSync(join(outside, 'secret'), 'outside the store');
  n.write('real', 'R');
  symlinkSync(join(outside, 'secret'), join(n.dirs.store, 'link-to-file'));
  symlinkSync(outside, join(n.dirs.store, 'link-to-folder'));
  const r = await n.capture().look();
  assert.equal(r.stored, ['real']);
  assert.equal(r.refused.sort(), ['link-to-file', 'link-to-folder']);
  for (const o of objects(n.dirs.dest)) assert.not.match(readFileSync(join(n.dirs.dest, 'tandem_capture/thehive/files1/files/objects', o), 'utf8'), /outside/);
  assert.equal(journal(n.dirs.dest).map((l) => l.path), ['real']);
});

test('an edited, unsigned or taken-out journal line is refused, and so is a changed object', async () => {
  const n = filesCaptureNode(certs);
  n.write('a', 'AAAA');
  n.write('b', 'BBBB');
  n.write('c', 'CCCC');
  await n.capture().look();
  const file = join(n.dirs.dest, captureJournalPath('thehive', 'files1', 1));
  const text = readFileSync(file, 'utf8');
  const lines = text.trim().split('\n');
  writeFileSync(file, text.replace('"size":4', '"size":5'));
  assert.match(await failure(n.reader().filesAt(n.clock.t)), /journal-00000001\.ndjson line 1: its signature does not check/);
  const unsigned = JSON.parse(lines[0]) as Record<string, unknown>;
  delete unsigned.sig;
  writeFileSync(file, [JSON.stringify(unsigned), ...lines.slice(1)].join('\n') + '\n');
  assert.match(await failure(n.reader().filesAt(n.clock.t)), /line 1 is not signed/);
  writeFileSync(file, [lines[0], lines[2]].join('\n') + '\n');
  assert.match(await failure(n.reader().filesAt(n.clock.t)), /line 2 has seq 3 where 2 was due/);
  writeFileSync(file, text);
  const state = await n.reader().filesAt(n.clock.t);
  const a = state.get('a')!;
  writeFileSync(join(n.dirs.dest, a.object), 'AAAB');
  assert.match(await failure(n.reader().copyTo(state, n.dirs.out)), /is not the copy of "a" its journal line names/);
  assert.equal(readdirSync(n.dirs.out).filter((f) => !f.startsWith('.')), [], 'nothing of a refused copy is left under its name');
  writeFileSync(join(n.dirs.dest, a.object), 'AAAAA');
  rmSync(n.dirs.out, { recursive: true });
  assert.match(await failure(n.reader().copyTo(state, n.dirs.out)), /larger than the 4 bytes/);
});

test('a full journal is left as it is and the next one started, the lines numbered on across them', async () => {
  const n = filesCaptureNode(certs, { journalMaxLines: 2 });
  const c = n.capture();
  for (const name of ['a', 'b', 'c']) {
    n.write(name, name);
    await c.look();
  }
  unlinkSync(join(n.dirs.store, 'a'));
  await c.look();
  assert.equal(journal(n.dirs.dest, 1).map((l) => l.seq), [1, 2]);
  assert.equal(journal(n.dirs.dest, 2).map((l) => l.seq), [3, 4]);
  assert.equal([...(await n.reader().filesAt(n.clock.t)).keys()].sort(), ['b', 'c']);
  rmSync(join(n.dirs.dest, captureJournalPath('thehive', 'files1', 1)));
  assert.match(await failure(n.reader().filesAt(n.clock.t)), /journal-00000001\.ndjson is missing, and journal 2 follows it/);
});

test.run();
