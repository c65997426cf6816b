/**
 * The commitlog capture against a real Cassandra 5.0: a node of its own (127.0.0.7, JMX 7700,
 * cluster tandem-capture, in a scratch folder, from the sandbox's installed Cassandra) with
 * cdc_enabled and a table WITH cdc = true; the agent's CommitlogCapture watches its cdc_raw and
 * stores into a local destination while rows are written, signed with the agent's certificate and
 * encrypted to an operator's age recipient as in an encrypted fleet; then the node is killed with
 * kill -9, its commitlog and cdc_raw are emptied, every captured segment is put back together from
 * the destination (assembleSegment: signatures, sizes, sha256, decryption) into a restore folder, and the node started
 * with restore_directories on it must hold every row whose sync the capture had stored.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assembleSegment, CommitlogCapture } from '../../agent/roles/cassandra/capture';
import { generateIdentity } from '../../shared/age';
import { CaptureKeys } from '../../shared/capture/capture-key';
import { openDestination, parseDestinationConfig } from '../../shared/destination';
import { CAPTURE_ROOT } from '../../shared/destination/layout';
import { runCommand } from '../../shared/exec';
import { silentLogger } from '../../shared/log';
import { makeCaptureCerts } from '../helpers/capture-certs';
import { scratchDir } from '../helpers/scratch';
import { connectProbeNode, kill9, probeNodetool, probeYaml, restorePoint, startProbeNode, type ProbeNode } from '../tools/probe-node';

const NODE: ProbeNode = { host: '127.0.0.7', jmxPort: 7700, cluster: 'tandem-capture' };
const ROWS = 40;

test('rows written while the capture runs come back from its pieces alone, after a kill -9 and an empty commitlog', async () => {
  const dir = await scratchDir('capture-it');
  for (const d of ['conf', 'data', 'commitlog', 'cdc_raw', 'hints', 'saved_caches', 'logs', 'tools', 'state', 'dest', 'restore']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'cassandra.yaml'), probeYaml(NODE, dir, 'cdc_enabled: true\ncdc_total_space: 256MiB\n'));
  const dest = openDestination(parseDestinationConfig({ type: 'local', path: join(dir, 'dest') }));
  let unshipped = -1;
  // As an agent of an encrypted fleet captures: signed with its TLS key, encrypted to the fleet's recipient.
  const certs = await makeCaptureCerts();
  const operator = generateIdentity();
  const capture = new CommitlogCapture({
    cdcRawDirectory: join(dir, 'cdc_raw'), intervalMs: 2000, stateDir: join(dir, 'state'),
    target: { dest, cluster: 'tandem-capture', node: 'n1' }, log: silentLogger(),
    signing: await certs.signing('n1'), recipients: [operator.recipient.toString()],
    metrics: { captured: (r) => void (unshipped = r.unshippedBytes), gaps: () => undefined },
  });
  let node: ChildProcess | null = startProbeNode(NODE, dir);
  try {
    let c = await connectProbeNode(NODE, node);
    await c.execute("CREATE KEYSPACE probe WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    await c.execute('CREATE TABLE probe.t (k int PRIMARY KEY, v text) WITH cdc = true');
    await runCommand([...probeNodetool(NODE, dir), 'flush'], { timeoutMs: 120_000 });
    capture.start();
    for (let k = 0; k < ROWS; k++) await c.execute('INSERT INTO probe.t (k, v) VALUES (?, ?)', [k, `row ${k}`], { prepare: true });
    const written = Date.now();
    // The sync after the writes (10 s period), then a look that stored everything durable.
    await new Promise((r) => setTimeout(r, 12_000));
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
      await capture.look();
      if (unshipped === 0 && Date.now() - written > 12_000) break;
    }
    assert.is(unshipped, 0, 'every durable byte stored');
    await c.shutdown();
    await capture.stop();
    await kill9(node);
    for (const d of ['commitlog', 'cdc_raw']) {
      rmSync(join(dir, d), { recursive: true });
      mkdirSync(join(dir, d));
    }
    const folder = join(dir, 'dest', CAPTURE_ROOT, 'tandem-capture', 'n1', 'commitlog');
    const segments = readdirSync(folder);
    assert.ok(segments.length >= 1, 'a segment was captured');
    const reader = { trust: certs.trust(dest), keys: new CaptureKeys(dest, [operator]) };
    for (const s of segments) {
      const pieces = readdirSync(join(folder, s)).filter((f) => f.endsWith('.part.age'));
      assert.ok(pieces.length >= 1 && pieces.every((f) => readFileSync(join(folder, s, f)).subarray(0, 21).toString() === 'age-encryption.org/v1'), `${s}: every piece an age file`);
      writeFileSync(join(dir, 'restore', s), await assembleSegment(dest, 'tandem-capture', 'n1', s, reader));
    }
    writeFileSync(join(dir, 'conf', 'commitlog_archiving.properties'), `restore_command=/bin/cp -f %from %to\nrestore_directories=${join(dir, 'restore')}\nrestore_point_in_time=${restorePoint(Date.UTC(2099, 0, 1))}\n`);
    node = startProbeNode(NODE, dir);
    c = await connectProbeNode(NODE, node);
    const rows = (await c.execute('SELECT k FROM probe.t')).rows.map((r) => r.k as number).sort((a, b) => a - b);
    await c.shutdown();
    assert.equal(rows, Array.from({ length: ROWS }, (_, k) => k));
  } finally {
    await capture.stop();
    if (node) await kill9(node);
  }
});

test.run();
