/**
 * A TheHive file store of 100,000 attachments, backed up, shown, verified and restored through
 * real agents and the real CLI. Before listings went to the destination as files, a finished
 * status carried every file of the store and a backup of such a store failed after shipping with
 * RESOURCE_EXHAUSTED (a 6.5 MB message against gRPC's 4 MiB): now every message stays small,
 * whatever the store holds, and the set's listing is a file its manifest references.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_MESSAGE_BYTES } from '../../shared/rpc/limits';
import { makeFleet, runCli, startFleet, stopFleet, type TestFleet } from '../helpers/fleet';

const COUNT = 100_000;
const ID = `big-${Date.now().toString(36)}`;
let fleet: TestFleet;
let src: string;
const samples: { rel: string; body: Buffer }[] = [];

/** Attachments as TheHive names them: `<aa>/<bb>/<sha256 of the content>`. */
function writeStore(dir: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const body = randomBytes(40 + (i % 200));
    const sha = createHash('sha256').update(body).digest('hex');
    const rel = `${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`;
    mkdirSync(join(dir, sha.slice(0, 2), sha.slice(2, 4)), { recursive: true });
    writeFileSync(join(dir, rel), body);
    if (i % 10_000 === 0) samples.push({ rel, body });
  }
}

test.before(async () => {
  src = mkdtempSync(join(tmpdir(), 'tandem-store-'));
  writeStore(src, COUNT);
  fleet = await makeFleet([{ node: 'files1', roles: { files: { store: 'localfs', location: src, concurrency: 8 } } }]);
  await startFleet(fleet);
});

test.after(async () => {
  if (fleet) {
    await stopFleet(fleet);
    rmSync(fleet.dir, { recursive: true, force: true });
  }
  rmSync(src, { recursive: true, force: true });
});

test(`a store of ${COUNT} attachments: backup, show --json, verify and restore, every message small`, async () => {
  const timed = async (what: string, args: string[]) => {
    const t0 = Date.now();
    const r = await runCli(args);
    console.log(`  ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  };
  const b = await timed('backup', ['backup', '--config', fleet.fleetFile, '--id', ID, '--json']);
  assert.is(b.code, 0, b.stdout + b.stderr);
  assert.is(JSON.parse(b.stdout).status, 'complete');

  const manifestFile = join(fleet.destDir, ID, 'manifest.json');
  const listingFile = join(fleet.destDir, ID, 'files1', 'files', 'listing.json');
  // The listing alone is larger than gRPC's default limit: it never travels in a message.
  assert.ok(statSync(listingFile).size > 4 * 1024 * 1024, `listing.json is ${statSync(listingFile).size} bytes`);
  assert.ok(statSync(manifestFile).size < MAX_MESSAGE_BYTES, 'the manifest references the listing instead of holding it');
  console.log(`  listing.json ${statSync(listingFile).size} bytes, manifest.json ${statSync(manifestFile).size} bytes`);

  const show = await timed('show --json', ['show', ID, '--config', fleet.fleetFile, '--json']);
  assert.is(show.code, 0, show.stderr);
  const m = JSON.parse(show.stdout);
  assert.equal(m.listed.files, COUNT);
  assert.is(m.nodes[0].parts.files.fileCount, COUNT);

  const v = await timed('verify', ['verify', ID, '--config', fleet.fleetFile, '--json']);
  assert.is(v.code, 0, v.stdout + v.stderr);
  const report = JSON.parse(v.stdout);
  assert.ok(report.ok, report.problems?.join('\n'));
  assert.is(report.files, COUNT + m.files.length, 'every attachment and every file of the set re-read');

  const target = join(fleet.dir, 'restored');
  const r = await timed('restore', ['restore', ID, '--config', fleet.fleetFile, '--yes', '--json', '--files-target', target]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.ok, JSON.stringify(out.problems));
  const files = out.results.verify.files1.find((x: { role: string }) => x.role === 'files').files;
  assert.equal([files.files, files.extraCount], [COUNT, 0]);
  for (const s of samples) assert.ok(readFileSync(join(target, s.rel)).equals(s.body), s.rel);
});

test.run();
