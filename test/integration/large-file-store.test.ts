/**
 * A TheHive file store of 100,000 attachments, backed up (full, then built on it), shown,
 * verified and restored through real agents and the real CLI. Every message stays small whatever
 * the store holds (the listing is a file the manifest references), and the agent streams the
 * store: its cut, its parent's listing and its own listing are never held whole, so its peak
 * resident memory stays under 200 MB (a million attachments: `npm run bench -- files`).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_MESSAGE_BYTES } from '../../shared/rpc/limits';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { writeAttachments, type GeneratedStore } from '../tools/attachments';
import { removeScratch, scratchDir } from '../helpers/scratch';

const COUNT = 100_000;
const ADDED = 100;
const ID = `big-${Date.now().toString(36)}`;
const ID2 = `${ID}-2`;
let fleet: TestFleet;
let src: string;
let store: GeneratedStore;

/** Peak resident memory (VmHWM) of a live process, bytes. */
const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

test.before(async () => {
  src = await scratchDir('store');
  store = writeAttachments(src, COUNT, { minBytes: 40, maxBytes: 240, sampleEvery: COUNT / 10 });
  fleet = await makeFleet([{ node: 'files1', roles: { files: { store: 'localfs', location: src, concurrency: 8, restoreTargets: [src, tmpdir()] } } }]);
  await startFleet(fleet);
});

test.after(async () => {
  if (fleet) {
    await removeFleet(fleet);
  }
  removeScratch(src);
});

const timed = async (what: string, args: string[]) => {
  const t0 = Date.now();
  const r = await runCli(args);
  console.log(`  ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
};

test(`a store of ${COUNT} attachments: backup and show --json, every message small`, async () => {
  const b = await timed('backup', ['backup', '--config', fleet.fleetFile, '--id', ID, '--json']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.is(JSON.parse(b.stdout).status, 'complete');

  const manifestFile = join(fleet.destDir, ID, 'manifest.json');
  const listingFile = join(fleet.destDir, ID, 'files1', 'files', 'listing.ndjson');
  // The listing alone is larger than gRPC's default limit: it never travels in a message.
  assert.ok(statSync(listingFile).size > 4 * 1024 * 1024, `listing.ndjson is ${statSync(listingFile).size} bytes`);
  assert.ok(statSync(manifestFile).size < MAX_MESSAGE_BYTES, 'the manifest references the listing instead of holding it');
  console.log(`  listing.ndjson ${statSync(listingFile).size} bytes, manifest.json ${statSync(manifestFile).size} bytes`);

  const show = await timed('show --json', ['show', ID, '--config', fleet.fleetFile, '--json']);
  assert.is(show.code, 0, show.stderr);
  const m = JSON.parse(show.stdout);
  assert.equal(m.listed.files, COUNT);
  assert.is(m.nodes[0].parts.files.fileCount, COUNT);
  // verify runs on the set built on this one below, which reads this set's attachments too.
});

test('built on it: only the new and the changed attachments are copied; restore brings back every one; a damaged one is found', async () => {
  const added = writeAttachments(src, ADDED, { minBytes: 40, maxBytes: 240, first: COUNT, sampleEvery: 1 });
  // An attachment rewritten in place (TheHive never does; a restore from elsewhere might): copied again.
  const rewritten = store.samples[1];
  const newBody = Buffer.concat([rewritten.body, Buffer.from('changed')]);
  writeFileSync(join(src, rewritten.rel), newBody);

  const b = await timed('backup built on the first set', ['backup', '--config', fleet.fleetFile, '--id', ID2, '--json']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  const out = JSON.parse(b.stdout);
  assert.equal([out.status, out.parent], ['complete', ID]);
  const m = JSON.parse((await runCli(['show', ID2, '--config', fleet.fleetFile, '--json'])).stdout);
  const part = m.nodes[0].parts.files;
  assert.equal([part.fileCount, part.referenced.files], [ADDED + 1, COUNT - 1], 'the new files and the rewritten one are stored, the rest kept by the first set');
  const data = join(fleet.destDir, ID2, 'files1', 'files', 'data');
  const stored = (readdirSync(data, { recursive: true }) as string[]).filter((p) => statSync(join(data, p)).isFile()).map((p) => p.split('\\').join('/')).sort();
  assert.equal(stored, [...added.samples.map((a) => a.rel), rewritten.rel].sort());

  const v = await timed('verify of the second set', ['verify', ID2, '--config', fleet.fleetFile, '--json']);
  const report = JSON.parse(v.stdout);
  assert.ok(report.ok, report.problems?.join('\n'));
  assert.is(report.files, COUNT + ADDED + m.files.length, 'the attachments of both sets and every file of the set re-read');

  const target = join(fleet.dir, 'restored');
  const r = await timed('restore', ['restore', ID2, '--config', fleet.fleetFile, '--yes', '--json', '--files-target', target]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const restored = JSON.parse(r.stdout);
  assert.ok(restored.ok, JSON.stringify(restored.problems));
  const files = restored.results.verify.files1.find((x: { role: string }) => x.role === 'files').files;
  assert.equal([files.files, files.extraCount], [COUNT + ADDED, 0], 'every attachment restored and checked against its sha256');
  for (const s of [...store.samples.slice(2), ...added.samples.slice(0, 10)]) assert.ok(readFileSync(join(target, s.rel)).equals(s.body), s.rel);
  assert.ok(readFileSync(join(target, rewritten.rel)).equals(newBody), 'the rewritten attachment as the second set copied it');

  // One attachment the second set takes from the first, damaged at the destination: verify names it.
  const kept = store.samples[2].rel;
  const at = join(fleet.destDir, ID, 'files1', 'files', 'data', kept);
  writeFileSync(at, Buffer.alloc(statSync(at).size));
  const bad = JSON.parse((await runCli(['verify', ID2, '--config', fleet.fleetFile, '--json'])).stdout);
  assert.is(bad.ok, false);
  assert.equal(bad.problems.length, 1, bad.problems.join('\n'));
  assert.match(bad.problems[0], new RegExp(`^${ID}/files1/files/data/${kept}: sha256 .* \\(corrupt\\) \\(attachment ${kept} of files1, unchanged since set ${ID}`));

  // Memory is a figure, not a verdict: the bound lives in `npm run bench -- files`.
  console.log(`  agent peak RSS ${(peakRss(fleet.agents[0].process!.pid!) / 2 ** 20).toFixed(0)} MB`);
});

test.run();
