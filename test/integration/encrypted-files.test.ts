/**
 * The files role in an encrypted set, end to end on a real agent and the real CLI, with a folder
 * store in a temporary folder (no sandbox): no stored byte and no stored name holds an
 * attachment's content or its name; verify without an identity checks what the manifest binds and
 * says the attachments were not checked, with one it checks every attachment's ciphertext; restore
 * gives the bytes back; an incremental set stores only the changed file and its restore finds the
 * rest in the parent; a wrong identity restores nothing; a replaced ciphertext is refused.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encrypt } from '../../shared/age';
import { writeNewIdentityFile } from '../../coordinator/keys';
import { parseManifest } from '../../shared/manifest';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';

/** Both the name and the content of one attachment: no stored name or byte of a set may hold it. */
const MARKER = 'tandemmarkerattachment7f3a';
const MARKED = `aa/bb/${MARKER}`;
const MARKED_BODY = Buffer.from(`${MARKER} `.repeat(40));
const OTHER = 'cc/dd/other';
const ID1 = 'tandem-20261207t130000z-f11e01';
const ID2 = 'tandem-20261207t130100z-f11e02';
const CLEAR = 'tandem-20261207t130200z-f11e03';
const NO_COPY = 'tandem-20261207t130130z-f11e04';

let f: TestFleet;
let src: string;
let ops: { file: string; recipient: string };
let other: { file: string; recipient: string };
let otherBody = randomBytes(3000);

/** Every file under `dir`, recursively; [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

/** The fleet file with `patch` applied, written to `file`. */
async function patchFleet(patch: (config: Record<string, unknown>) => void, file: string): Promise<string> {
  const config = JSON.parse(await readFile(f.fleetFile, 'utf8')) as Record<string, unknown>;
  patch(config);
  await writeFile(file, JSON.stringify(config));
  return file;
}

/** The files part of the set, as `tandem show --json` prints it. */
async function filesPartOf(id: string): Promise<{ fileCount: number; referenced?: { files: number }; storedIn?: string[]; deviations: { examples: string[] } }> {
  const show = await runCli(['show', id, '--config', f.fleetFile, '--json']);
  assert.is(show.code, 0, show.stderr);
  return JSON.parse(show.stdout).nodes[0].parts.files;
}

test.before(async () => {
  src = await scratchDir('enc-files-store');
  await mkdir(join(src, 'aa/bb'), { recursive: true });
  await mkdir(join(src, 'cc/dd'), { recursive: true });
  await writeFile(join(src, MARKED), MARKED_BODY);
  await writeFile(join(src, OTHER), otherBody);
  f = await makeFleet([{ node: 'files1', roles: { files: { store: 'localfs', location: src, concurrency: 2, restoreTargets: [tmpdir()] } } }]);
  ops = await writeNewIdentityFile(join(f.dir, 'keys-ops'));
  other = await writeNewIdentityFile(join(f.dir, 'keys-other'));
  await patchFleet((c) => (c.encryption = { mode: 'age', recipients: [ops.recipient], identity: ops.file }), f.fleetFile);
  await startFleet(f);
});
test.after(async () => {
  if (f) await removeFleet(f);
  if (src) removeScratch(src);
});

test('backup of a folder store with mode age: no stored name or byte holds an attachment\'s name or content', async () => {
  const b = await runCli(['backup', '--config', f.fleetFile, '--id', ID1]);
  assert.is(b.code, 0, b.stderr);
  const set = join(f.destDir, ID1);
  const stored = await filesUnder(set);
  for (const file of stored) {
    assert.not.ok(file.includes(MARKER), `${file}: a stored name holds the attachment's name`);
    const body = await readFile(file);
    assert.not.ok(body.includes(MARKER), `${file} holds the attachment's name or content`);
    assert.not.ok(body.includes(otherBody.subarray(0, 64)), `${file} holds the other attachment's bytes`);
  }
  const names = stored.map((p) => p.slice(set.length + 1)).sort();
  assert.ok(names.includes('files1/files/listing.ndjson.age') && !names.includes('files1/files/listing.ndjson'), names.join(' '));
  const sealed = names.filter((n) => n.startsWith('files1/files/sealed/'));
  assert.is(sealed.length, 2, names.join(' '));
  assert.ok(sealed.every((n) => /^files1\/files\/sealed\/[0-9a-f]{2}\/[0-9a-f]{32}\.age$/.test(n)), sealed.join(' '));
  assert.not.ok(names.some((n) => n.startsWith('files1/files/data/')), 'nothing under the store names');
  // The signed manifest binds the listing's ciphertext.
  const manifest = parseManifest(await readFile(join(set, 'manifest.json')), ID1);
  const listing = manifest.files.find((x) => x.path === `${ID1}/files1/files/listing.ndjson.age`);
  assert.ok(listing, 'the manifest records the stored listing');
  assert.is((await stat(join(f.destDir, listing!.path))).size, listing!.size);
});

test('verify without an identity says the attachments were not checked; with one it checks every attachment', async () => {
  const noIdentity = await patchFleet((c) => (c.encryption = { mode: 'age', recipients: [ops.recipient] }), join(f.dir, 'no-identity.yaml'));
  const v = await runCli(['verify', ID1, '--config', noIdentity, '--json']);
  assert.is(v.code, 0, v.stdout + v.stderr);
  const report = JSON.parse(v.stdout.split('\n')[0]);
  assert.is(report.ok, true, report.problems.join('\n'));
  assert.is(report.unchecked.length, 1, JSON.stringify(report));
  assert.match(report.unchecked[0], 'not checked');
  assert.match(report.unchecked[0], '--identity');
  assert.match(v.stdout + v.stderr, 'NOT CHECKED');
  assert.not.match(v.stdout + v.stderr, ' intact');

  const w = await runCli(['verify', ID1, '--config', noIdentity, '--json', '--identity', ops.file]);
  assert.is(w.code, 0, w.stdout + w.stderr);
  const full = JSON.parse(w.stdout.split('\n')[0]);
  assert.equal([full.ok, full.unchecked], [true, []]);
  assert.is(full.files, report.files + 2, 'the two attachments checked on top of the manifest\'s files');
});

test('restore into a scratch target gives the bytes back', async () => {
  const target = join(f.dir, 'restored-1');
  const r = await runCli(['restore', ID1, '--config', f.fleetFile, '--yes', '--identity', ops.file, '--files-target', target]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok((await readFile(join(target, MARKED))).equals(MARKED_BODY));
  assert.ok((await readFile(join(target, OTHER))).equals(otherBody));
});

test('an incremental set after one changed file stores only that file; its restore finds the other in the parent', async () => {
  otherBody = randomBytes(3100);
  await writeFile(join(src, OTHER), otherBody);
  const b = await runCli(['backup', '--config', f.fleetFile, '--id', ID2, '--json']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.is(JSON.parse(b.stdout).parent, ID1);
  const sealed = await filesUnder(join(f.destDir, ID2, 'files1', 'files', 'sealed'));
  assert.is(sealed.length, 1, sealed.join(' '));
  const part = await filesPartOf(ID2);
  assert.equal([part.fileCount, part.referenced?.files, part.storedIn], [1, 1, [ID1]]);
  const target = join(f.dir, 'restored-2');
  const r = await runCli(['restore', ID2, '--config', f.fleetFile, '--yes', '--identity', ops.file, '--files-target', target]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok((await readFile(join(target, MARKED))).equals(MARKED_BODY), 'the unchanged attachment, from the parent');
  assert.ok((await readFile(join(target, OTHER))).equals(otherBody), 'the changed attachment, from this set');
});

test('prune of the parent keeps the attachments the kept encrypted set needs, without an identity', async () => {
  const noIdentity = await patchFleet((c) => (c.encryption = { mode: 'age', recipients: [ops.recipient] }), join(f.dir, 'no-identity-prune.yaml'));
  const p = await runCli(['prune', '--config', noIdentity, '--keep-last', '1']);
  assert.is(p.code, 0, p.stdout + p.stderr);
  assert.not.ok(await stat(join(f.destDir, ID1, 'manifest.json')).catch(() => null), 'the parent set is pruned');
  assert.is((await filesUnder(join(f.destDir, ID1, 'files1', 'files', 'sealed'))).length, 2, 'its attachments stay: the kept set names it in storedIn');
  const target = join(f.dir, 'restored-after-prune');
  const r = await runCli(['restore', ID2, '--config', f.fleetFile, '--yes', '--identity', ops.file, '--files-target', target]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok((await readFile(join(target, MARKED))).equals(MARKED_BODY), 'the attachment the pruned parent stores');
});

test('without its plaintext copy of the parent\'s listing the agent copies every file, and logs why', async () => {
  await rm(join(f.agents[0].stateDir, 'sealed'), { recursive: true, force: true });
  const b = await runCli(['backup', '--config', f.fleetFile, '--id', NO_COPY, '--json']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.is(JSON.parse(b.stdout).parent, ID2);
  assert.is((await filesUnder(join(f.destDir, NO_COPY, 'files1', 'files', 'sealed'))).length, 2);
  assert.equal((await filesPartOf(NO_COPY)).referenced?.files, 0);
  assert.ok(f.agents[0].log.some((l) => l.includes('keeps no plaintext copy')), 'the agent says why it copies everything');
});

test('a wrong identity restores 0 bytes', async () => {
  const target = join(f.dir, 'restored-wrong');
  const r = await runCli(['restore', ID2, '--config', f.fleetFile, '--yes', '--identity', other.file, '--files-target', target]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, ops.recipient);
  assert.equal(await filesUnder(target), []);
});

test('a replaced attachment ciphertext (a valid age file to the set recipient) is refused by verify --identity and by restore', async () => {
  const manifest = parseManifest(await readFile(join(f.destDir, ID2, 'manifest.json')), ID2);
  const [file] = await filesUnder(join(f.destDir, ID2, 'files1', 'files', 'sealed'));
  await writeFile(file, encrypt([manifest.options.setRecipient!], randomBytes(3100)));
  const v = await runCli(['verify', ID2, '--config', f.fleetFile, '--json', '--identity', ops.file]);
  assert.is(v.code, 1, v.stdout + v.stderr);
  const report = JSON.parse(v.stdout.split('\n')[0]);
  assert.is(report.problems.length, 1, report.problems.join('\n'));
  assert.match(report.problems[0], file.slice(f.destDir.length + 1));
  const target = join(f.dir, 'restored-replaced');
  const r = await runCli(['restore', ID2, '--config', f.fleetFile, '--yes', '--identity', ops.file, '--files-target', target]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.equal(await filesUnder(target), []);
});

test('mode none still writes the files role in clear', async () => {
  const clear = await patchFleet((c) => (c.encryption = { mode: 'none' }), join(f.dir, 'clear.yaml'));
  const b = await runCli(['backup', '--config', clear, '--id', CLEAR]);
  assert.is(b.code, 0, b.stderr);
  assert.ok((await readFile(join(f.destDir, CLEAR, 'files1', 'files', 'data', MARKED))).equals(MARKED_BODY));
  await stat(join(f.destDir, CLEAR, 'files1', 'files', 'listing.ndjson'));
});

test.run();
