/**
 * --json output is whole on a pipe: the compiled CLI runs as a child process whose stdout is a
 * real pipe read only after a delay, on a local-folder destination holding a > 1 MiB manifest.
 */
import { test } from 'uvu';
import { manifestPath, manifestSignaturePath } from '../../shared/destination/layout';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MANIFEST_FORMAT, manifestSchema, type Manifest } from '../../shared/manifest';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { signingKeyAt, writeSigningKeySync } from '../helpers/signing';
import { signatureFor } from '../../shared/signing';

const CLI = join(__dirname, '..', '..', 'coordinator', 'main.js');
const root = scratchDirSync('cli-pipe');
const destination = join(root, 'dest');
const fleetFile = join(root, 'fleet.yaml');
const ID = 'tandem-20250101t000000z-abcdef';

/** A valid manifest of `count` files: large enough that one write cannot fit a pipe's buffer. */
function bigManifest(count: number): Manifest {
  const files = Array.from({ length: count }, (_, i) => ({
    path: `${ID}/node1/cassandra/thehive/table_${i}-0123456789abcdef.tbz`,
    size: i * 1000,
    sha256: (i.toString(16).padStart(8, '0') + 'ab').repeat(8).slice(0, 64),
    node: 'node1',
    role: 'cassandra' as const,
  }));
  return manifestSchema.parse({
    format: MANIFEST_FORMAT,
    id: ID,
    tag: ID,
    status: 'complete',
    tandemVersion: '0.1.0',
    startedAt: '2025-01-01T00:00:00.000Z',
    committedAt: '2025-01-01T00:00:01.000Z',
    completedAt: '2025-01-01T00:00:02.000Z',
    durationMs: 2000,
    snapshotSpreadMs: 3,
    options: { compression: 'bzip2' },
    nodes: [{
      node: 'node1', hostname: 'host1', roles: ['cassandra'], versions: { cassandra: '5.0.8' }, committedAt: 1735689601000, clockOffsetMs: 0,
      record: { path: `${ID}/node1/part.json`, size: 1, sha256: 'c'.repeat(64) }, commits: {}, parts: {},
    }],
    parent: null,
    files,
    references: [],
    listed: { files: 0, bytes: 0 },
    bytes: files.reduce((s, f) => s + f.size, 0),
  });
}

/** Runs the CLI with stdout on a pipe nobody reads for `delayMs`, then reads it all. */
async function runPiped(args: string[], delayMs: number): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Until something reads it, the pipe holds what the kernel buffers (64 KiB) and the writer waits.
  await sleep(delayMs);
  const chunks: Buffer[] = [];
  for await (const c of child.stdout) chunks.push(c as Buffer);
  return { code: await exited, stdout: Buffer.concat(chunks), stderr };
}

test.before(() => {
  mkdirSync(join(destination, ID), { recursive: true });
  const keys = writeSigningKeySync(join(root, 'keys'));
  const body = JSON.stringify(bigManifest(10_000));
  writeFileSync(join(destination, manifestPath(ID)), body);
  writeFileSync(join(destination, manifestSignaturePath(ID)), signatureFor(signingKeyAt(keys.key), 'manifest.json', body));
  writeFileSync(fleetFile, `agents:\n  - node: node1\n    address: 127.0.0.1:1\n    roles: [cassandra]\ndestination:\n  type: local\n  path: ${destination}\nsigning: {key: ${keys.key}}\n`);
});
test.after(() => removeScratch(root));

test('show --json through a slow pipe: the whole > 1 MiB document parses', async () => {
  const r = await runPiped(['show', ID, '--json', '--config', fleetFile], 500);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 1024 * 1024, `expected > 1 MiB on stdout, got ${r.stdout.length} bytes`);
  const m = JSON.parse(r.stdout.toString('utf8')) as Manifest;
  assert.is(m.id, ID);
  assert.is(m.files.length, 10_000);
  assert.is(m.files[9_999].path, bigManifest(10_000).files[9_999].path);
});

test('an error exit goes the same way: exit code 1, the message on stderr', async () => {
  const r = await runPiped(['show', 'no-such-set', '--json', '--config', fleetFile], 100);
  assert.is(r.code, 1);
  assert.is(r.stdout.length, 0);
  assert.match(r.stderr, /no backup set no-such-set/);
});

test.run();
