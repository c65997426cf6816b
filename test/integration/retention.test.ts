/**
 * `tandem prune` and `tandem delete` with real agents (rehearsal role), the real CLI and a local
 * destination: kept sets still verify, files that kept sets reference stay, a prune killed at
 * each of its steps leaves every kept set verifiable and the next prune finishes, and bad input
 * removes nothing. (The Elasticsearch snapshot's deletion: retention-es.test.ts, on the sandbox.)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Journal } from '../../coordinator/backup/journal';
import { parseManifest } from '../../shared/manifest';
import { backupOptionsSchema } from '../../shared/wire/backup-options';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { cliStoppedAt, kill9 } from '../helpers/stopped-cli';
import { resignManifest } from '../helpers/signing';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

const SETS = ['set-1', 'set-2', 'set-3', 'set-4'];

/**
 * Every file under `dir`, relative, sorted; a destination's temporaries (a dot name: an upload a
 * kill interrupted) are left out, as every reader of a destination leaves them out.
 */
function tree(dir: string, rel = ''): string[] {
  if (!existsSync(join(dir, rel))) return [];
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .flatMap((e) => (e.isDirectory() ? tree(dir, rel ? `${rel}/${e.name}` : e.name) : [rel ? `${rel}/${e.name}` : e.name]))
    .sort();
}

/** The temporaries under `dir`, to show in a failure. */
const hidden = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((p) => p.split('/').some((s) => s.startsWith('.'))) : []);

/** Makes `id` reference `path` of an earlier set, as an incremental set's manifest does; checked by the manifest's schema, and signed again with the fleet's key. */
function addReference(f: TestFleet, id: string, path: string): void {
  const file = join(f.destDir, id, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  const set = path.split('/')[0];
  const owner = JSON.parse(readFileSync(join(f.destDir, set, 'manifest.json'), 'utf8'));
  const stored = owner.files.find((x: { path: string }) => x.path === path);
  m.references.push({ ...stored, set });
  writeFileSync(file, JSON.stringify(m));
  parseManifest(JSON.stringify(m), id);
  resignManifest(f.destDir, id, f.signing.key);
}

/** A fleet of two rehearsal agents with four complete sets; set-3 references a file of set-1, set-4 one of set-2. */
async function fleetWithSets(): Promise<TestFleet> {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 0 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 0 } } }]);
  fleets.push(f);
  await startFleet(f);
  for (const id of SETS) {
    const r = await runCli(['backup', '--config', f.fleetFile, '--id', id]);
    assert.is(r.code, 0, r.stderr);
  }
  // The rehearsal role stores everything again; an incremental set's archives would be referenced like this.
  addReference(f, 'set-3', 'set-1/n1/rehearsal/part.txt');
  addReference(f, 'set-4', 'set-2/n2/rehearsal/part.txt');
  return f;
}

async function verifies(f: TestFleet, id: string): Promise<void> {
  const v = await runCli(['verify', id, '--config', f.fleetFile, '--json']);
  assert.is(v.code, 0, `${id}: ${v.stdout} ${v.stderr}`);
}

/** What keep-last 2 must leave: set-3 and set-4 whole, and of set-1 and set-2 only the files they reference, with the marker. */
function assertPrunedToTwo(f: TestFleet): void {
  assert.equal(tree(join(f.destDir, 'set-1')), ['n1/rehearsal/part.txt', 'pruned.json', 'pruned.sig'], `set-1, temporaries: ${hidden(join(f.destDir, 'set-1'))}`);
  assert.equal(tree(join(f.destDir, 'set-2')), ['n2/rehearsal/part.txt', 'pruned.json', 'pruned.sig'], `set-2, temporaries: ${hidden(join(f.destDir, 'set-2'))}`);
  for (const id of ['set-3', 'set-4']) assert.ok(existsSync(join(f.destDir, id, 'manifest.json')), id);
}

test('prune --keep-last 2: the kept sets verify, the files they reference stay, list hides the pruned folders', async () => {
  const f = await fleetWithSets();
  const dry = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '2', '--dry-run', '--json']);
  assert.is(dry.code, 0, dry.stderr);
  assert.equal(JSON.parse(dry.stdout).removed.map((r: { id: string; result: string }) => `${r.id}:${r.result}`), ['set-1:held', 'set-2:held']);
  assert.ok(existsSync(join(f.destDir, 'set-1', 'manifest.json')), 'a dry run removes nothing');

  const r = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '2', '--json']);
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.kept.map((k: { id: string }) => k.id), ['set-4', 'set-3']);
  assert.equal(report.kept[0].reasons, ['newest', 'last']);
  assertPrunedToTwo(f);
  for (const id of ['set-3', 'set-4']) await verifies(f, id);

  const list = JSON.parse((await runCli(['list', '--config', f.fleetFile, '--json'])).stdout).backupSets;
  assert.equal(list.map((s: { id: string; status: string }) => `${s.id}:${s.status}`), ['set-3:complete', 'set-4:complete']);
  const all = await runCli(['list', '--all', '--config', f.fleetFile]);
  assert.match(all.stdout, /set-1 {2}pruned \(holds 1 files of later sets/);
  const shown = await runCli(['show', 'set-1', '--config', f.fleetFile]);
  assert.is(shown.code, 1);
  assert.match(shown.stderr, /was pruned/);

  // A new backup builds on the newest complete set, never on a pruned folder.
  const next = await runCli(['backup', '--config', f.fleetFile, '--id', 'set-5', '--json']);
  assert.is(next.code, 0, next.stderr);
  assert.is(JSON.parse(next.stdout).parent, 'set-4');

  // Once set-3 goes, nothing needs set-1 any more: its folder goes whole.
  const again = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '2']);
  assert.is(again.code, 0, again.stderr);
  assert.not.ok(existsSync(join(f.destDir, 'set-1')));
  assert.equal(tree(join(f.destDir, 'set-2')), ['n2/rehearsal/part.txt', 'pruned.json', 'pruned.sig'], 'set-4 still needs it');
  assert.not.ok(existsSync(join(f.destDir, 'set-3')));
  for (const id of ['set-4', 'set-5']) await verifies(f, id);
});

test('delete: the newest set is refused (exit 1), an unknown id is exit 2, an older one goes', async () => {
  const f = await fleetWithSets();
  const before = tree(f.destDir);
  const newest = await runCli(['delete', 'set-4', '--config', f.fleetFile]);
  assert.is(newest.code, 1, newest.stderr);
  assert.match(newest.stderr, /set-4 is the newest complete set, nothing deleted.*take a new backup first/);
  const unknown = await runCli(['delete', 'set-9', '--config', f.fleetFile]);
  assert.is(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /no backup set set-9 at the destination, nothing deleted/);
  assert.equal(tree(f.destDir), before, 'nothing was deleted');

  const d = await runCli(['delete', 'set-2', '--config', f.fleetFile, '--json']);
  assert.is(d.code, 0, d.stderr);
  assert.equal(tree(join(f.destDir, 'set-2')), ['n2/rehearsal/part.txt', 'pruned.json', 'pruned.sig'], 'set-4 references it');
  const d3 = await runCli(['delete', 'set-3', '--config', f.fleetFile]);
  assert.is(d3.code, 0, d3.stderr);
  assert.not.ok(existsSync(join(f.destDir, 'set-3')), 'nothing references set-3');
  for (const id of ['set-1', 'set-4']) await verifies(f, id);
});

test('bad input exits 2 and deletes nothing; a running backup exits 1 naming it', async () => {
  const f = await fleetWithSets();
  const before = tree(f.destDir);
  const cases: [string[], RegExp][] = [
    [[], /nothing says what to keep: give --keep-last.*or a retention block in .*keep_daily: 7/],
    [['--keep-last', '1', '--keep-last', '2'], /--keep-last is given 2 times with different values \(1, 2\)/],
    [['--keep-daily=-1'], /--keep-daily "-1": must be a whole number/],
    [['--keep-weekly', 'x'], /--keep-weekly "x": must be a whole number/],
    [['--keep-last', '0'], /every keep count is 0/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['prune', '--config', f.fleetFile, ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(tree(f.destDir), before, 'nothing was deleted');

  // A live process holding the lock as a backup.
  mkdirSync(f.coordinatorDir, { recursive: true });
  writeFileSync(join(f.coordinatorDir, 'backup.lock'), JSON.stringify({ pid: process.pid, backupId: 'set-running', startedAt: new Date().toISOString(), host: hostname() }));
  const locked = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '1']);
  assert.is(locked.code, 1, locked.stderr);
  assert.match(locked.stderr, /another tandem backup is running with state folder .*: backup set-running \(pid /);
  assert.equal(tree(f.destDir), before, 'nothing was deleted');
});

test('the fleet file\'s retention block applies when no flag is given; flags replace it', async () => {
  const f = await fleetWithSets();
  const conf = JSON.parse(readFileSync(f.fleetFile, 'utf8'));
  writeFileSync(f.fleetFile, JSON.stringify({ ...conf, retention: { keep_last: 3 } }));
  const r = await runCli(['prune', '--config', f.fleetFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).kept.map((k: { id: string }) => k.id), ['set-4', 'set-3', 'set-2']);
  const flags = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '2', '--dry-run', '--json']);
  assert.equal(JSON.parse(flags.stdout).kept.map((k: { id: string }) => k.id), ['set-4', 'set-3']);
});

test('a set an unfinished backup builds on is kept with what it references, and delete of it refused, until recover ends that backup', async () => {
  const f = await fleetWithSets();
  // A coordinator killed while shipping a set built on set-3 (which references a file of set-1).
  new Journal(f.coordinatorDir).begin('tandem-20991231t000000z-0a0b0d', Date.now(), backupOptionsSchema.parse({}), 'set-3');
  const del = await runCli(['delete', 'set-3', '--config', f.fleetFile]);
  assert.is(del.code, 1, del.stderr);
  assert.match(del.stderr, /set-3 is the parent of backup tandem-20991231t000000z-0a0b0d, unfinished in this coordinator's journal, nothing deleted: run 'tandem recover'/);
  const r = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '1', '--json']);
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.kept.map((k: { id: string; reasons: string[] }) => `${k.id}:${k.reasons.join('+')}`), ['set-4:newest+last', 'set-3:parent-of-unfinished']);
  for (const id of ['set-3', 'set-4']) await verifies(f, id);
  assert.equal(tree(join(f.destDir, 'set-1')), ['n1/rehearsal/part.txt', 'pruned.json', 'pruned.sig'], 'set-3 still references it');
});

test('incomplete sets: an old one goes; a young one, one with an open journal run and one of unknown age stay', async () => {
  const f = await fleetWithSets();
  const plant = (id: string, mtimeMs: number) => {
    mkdirSync(join(f.destDir, id, 'n1'), { recursive: true });
    const file = join(f.destDir, id, 'n1', 'part.json');
    writeFileSync(file, '{}');
    utimesSync(file, new Date(mtimeMs), new Date(mtimeMs));
  };
  const old = Date.now() - 30 * 86_400_000;
  plant('tandem-20200101t000000z-0a0b0c', old);
  plant('tandem-20200102t000000z-0a0b0c', old);
  plant('tandem-20990101t000000z-0a0b0c', old); // an id from the future: its age is not taken from the mtime alone
  plant('operator-chosen', Date.now());
  new Journal(f.coordinatorDir).begin('tandem-20200102t000000z-0a0b0c', old, backupOptionsSchema.parse({}));
  const r = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '4', '--json']);
  assert.is(r.code, 0, r.stderr);
  const verdicts = Object.fromEntries(JSON.parse(r.stdout).incomplete.map((i: { id: string; removed: boolean; reason: string }) => [i.id, i]));
  assert.ok(verdicts['tandem-20200101t000000z-0a0b0c'].removed);
  assert.not.ok(existsSync(join(f.destDir, 'tandem-20200101t000000z-0a0b0c')));
  assert.match(verdicts['tandem-20200102t000000z-0a0b0c'].reason, /unfinished in the journal/);
  assert.match(verdicts['tandem-20990101t000000z-0a0b0c'].reason, /may still be running/);
  assert.match(verdicts['operator-chosen'].reason, /may still be running/);
  for (const id of ['tandem-20200102t000000z-0a0b0c', 'tandem-20990101t000000z-0a0b0c', 'operator-chosen']) assert.ok(existsSync(join(f.destDir, id)), id);
});


for (const point of ['prune-after-marker', 'prune-after-snapshot', 'prune-after-manifest-removed', 'prune-removing-files']) {
  test(`prune killed (SIGKILL) at ${point}: the kept sets verify, and the next prune finishes`, async () => {
    const f = await fleetWithSets();
    await kill9(await cliStoppedAt(['prune', '--config', f.fleetFile, '--keep-last', '2'], point));
    for (const id of ['set-3', 'set-4']) await verifies(f, id);
    // Marked first: whatever step it died at, set-1 is no longer listed as a set, complete or incomplete.
    const list = JSON.parse((await runCli(['list', '--config', f.fleetFile, '--json'])).stdout).backupSets;
    assert.not.ok(list.some((s: { id: string }) => s.id === 'set-1'), JSON.stringify(list));
    const again = await runCli(['prune', '--config', f.fleetFile, '--keep-last', '2']);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stderr, /taking over the stale lock/);
    assertPrunedToTwo(f);
    for (const id of ['set-3', 'set-4']) await verifies(f, id);
  });
}

test.run();
