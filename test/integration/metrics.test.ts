/**
 * Metrics, end to end with real agents (rehearsal role, mutual TLS) and the real CLI: the agents'
 * /metrics scraped over HTTP with node's fetch and parsed, and the node_exporter textfile the CLI
 * writes with --metrics-file read back and parsed.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFleet, removeFleet, runCli, startFleet, unusedPort, type TestAgent, type TestFleet } from '../helpers/fleet';
import { parsePromText, sampleValue, type PromText } from '../helpers/prom-text';

const fleets: TestFleet[] = [];
test.after(async () => {
  for (const f of fleets) await removeFleet(f);
});

async function fleetOf(...args: Parameters<typeof makeFleet>) {
  const f = await makeFleet(...args);
  fleets.push(f);
  await startFleet(f);
  return f;
}

async function scrape(a: TestAgent): Promise<PromText> {
  const res = await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parsePromText(await res.text());
}

const readTextfile = (file: string) => parsePromText(readFileSync(file, 'utf8'));

test('a backup moves the agents\' counters, durations, bytes and last-success time; the CLI writes the textfile', async () => {
  const f = await fleetOf([{ node: 'n1', metrics: true }, { node: 'n2', metrics: true }]);
  const before = await scrape(f.agents[0]);
  assert.is(sampleValue(before, 'tandem_agent_backups_total', { outcome: 'success' }), 0);
  assert.ok(sampleValue(before, 'process_cpu_user_seconds_total', { node: 'n1' })! >= 0, 'process metrics, labelled with the node');
  assert.is(sampleValue(before, 'tandem_agent_last_success_timestamp_seconds'), undefined, 'no success yet');

  const prom = join(f.dir, 'tandem.prom');
  const t0 = Date.now() / 1000;
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--id', 'set-metrics', '--metrics-file', prom]);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);

  for (const a of f.agents) {
    const m = await scrape(a);
    assert.is(sampleValue(m, 'tandem_agent_backups_total', { outcome: 'success' }), 1, a.node);
    assert.is(sampleValue(m, 'tandem_agent_backups_total', { outcome: 'failure' }), 0);
    for (const phase of ['prepare', 'commit', 'ship']) {
      assert.is(sampleValue(m, 'tandem_agent_phase_duration_seconds_count', { operation: 'backup', phase }), 1, `${a.node} ${phase}`);
    }
    assert.ok(sampleValue(m, 'tandem_agent_bytes_archived_total')! > 0);
    assert.ok(sampleValue(m, 'tandem_agent_bytes_shipped_total')! >= sampleValue(m, 'tandem_agent_bytes_archived_total')!);
    assert.ok(sampleValue(m, 'tandem_agent_last_success_timestamp_seconds', { operation: 'backup' })! >= t0);
    assert.ok(Math.abs(sampleValue(m, 'tandem_agent_last_snapshot_timestamp_seconds')! - t0) < 60);
    assert.is(sampleValue(m, 'tandem_agent_last_snapshot_info', { backup_id: 'set-metrics' }), 1);
    assert.is(m.type.get('tandem_agent_phase_duration_seconds'), 'histogram');
  }

  const text = readTextfile(prom);
  const fleet = { fleet: 'fleet' }; // the fleet file is fleet.yaml
  assert.is(sampleValue(text, 'tandem_backup_last_run_success', fleet), 1);
  assert.ok(Math.abs(sampleValue(text, 'tandem_backup_last_run_start_timestamp_seconds', fleet)! - t0) < 5);
  assert.is(sampleValue(text, 'tandem_backup_last_run_duration_seconds', fleet), out.durationMs / 1000);
  assert.is(sampleValue(text, 'tandem_backup_last_run_bytes', fleet), out.bytes);
  assert.is(sampleValue(text, 'tandem_backup_last_run_snapshot_spread_seconds', fleet), out.snapshotSpreadMs / 1000);
  assert.is(sampleValue(text, 'tandem_backup_last_run_unreachable_agents', fleet), 0);
  assert.is(sampleValue(text, 'tandem_backup_sets', { ...fleet, status: 'complete' }), 1);
  assert.ok(sampleValue(text, 'tandem_backup_last_complete_timestamp_seconds', fleet)! >= t0);
  assert.is(text.type.get('tandem_backup_last_run_success'), 'gauge');
  assert.is(statSync(prom).mode & 0o777, 0o644, 'readable by node_exporter');
});

test('the textfile keeps other lines: a failed backup updates its own, the drill\'s and another fleet\'s stay', async () => {
  const f = await fleetOf([{ node: 'n1', metrics: true }, { node: 'n2', metrics: true, roles: { rehearsal: { vote: 'no' } } }]);
  const prom = join(f.dir, 'tandem.prom');
  writeFileSync(prom, [
    '# HELP tandem_drill_last_run_success Whether the last restore drill of the fleet restored and verified (1) or not (0)',
    '# TYPE tandem_drill_last_run_success gauge',
    'tandem_drill_last_run_success{fleet="fleet"} 1',
    'tandem_drill_last_restore_duration_seconds{fleet="fleet"} 42.5',
    'tandem_backup_last_run_success{fleet="other"} 1',
    'tandem_backup_last_run_success{fleet="fleet"} 1',
    '',
  ].join('\n'));
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--metrics-file', prom]);
  assert.is(r.code, 1, r.stderr);
  const text = readTextfile(prom);
  assert.is(sampleValue(text, 'tandem_backup_last_run_success', { fleet: 'fleet' }), 0);
  assert.is(sampleValue(text, 'tandem_backup_last_run_bytes', { fleet: 'fleet' }), 0);
  assert.is(sampleValue(text, 'tandem_backup_last_run_success', { fleet: 'other' }), 1, "another fleet's line stays");
  assert.is(sampleValue(text, 'tandem_drill_last_run_success', { fleet: 'fleet' }), 1, "the drill's lines stay");
  assert.is(sampleValue(text, 'tandem_drill_last_restore_duration_seconds', { fleet: 'fleet' }), 42.5);
  assert.is(sampleValue(text, 'tandem_backup_sets', { fleet: 'fleet', status: 'complete' }), 0);

  // The agent that voted yes was prepared, then aborted; the one that voted no never reserved anything.
  assert.is(sampleValue(await scrape(f.agents[0]), 'tandem_agent_backups_total', { outcome: 'aborted' }), 1);
  assert.is(sampleValue(await scrape(f.agents[1]), 'tandem_agent_backups_total', { outcome: 'aborted' }), 0);
});

test('an unreachable agent is counted in the textfile', async () => {
  const f = await fleetOf([{ node: 'n1' }], { extraAgents: [{ node: 'ghost', port: await unusedPort() }] });
  const prom = join(f.dir, 'tandem.prom');
  const r = await runCli(['backup', '--config', f.fleetFile, '--json', '--metrics-file', prom]);
  assert.is(r.code, 1, r.stderr);
  assert.is(sampleValue(readTextfile(prom), 'tandem_backup_last_run_unreachable_agents', { fleet: 'fleet' }), 1);
});

test('a drill writes its result without touching the backup\'s lines; the agent counts the restore', async () => {
  const f = await fleetOf([{ node: 'n1', metrics: true }]);
  const prom = join(f.dir, 'tandem.prom');
  assert.is((await runCli(['backup', '--config', f.fleetFile, '--json', '--metrics-file', prom])).code, 0);
  const r = await runCli(['drill', 'latest', '--config', f.fleetFile, '--json', '--metrics-file', prom, '--scratch-dir', join(f.dir, 'scratch')]);
  assert.is(r.code, 0, r.stderr);
  const text = readTextfile(prom);
  assert.is(sampleValue(text, 'tandem_drill_last_run_success', { fleet: 'fleet' }), 1);
  assert.is(sampleValue(text, 'tandem_drill_last_restore_duration_seconds', { fleet: 'fleet' }), JSON.parse(r.stdout).restoreMs / 1000);
  assert.ok(sampleValue(text, 'tandem_drill_last_run_start_timestamp_seconds', { fleet: 'fleet' })! > 0);
  assert.is(sampleValue(text, 'tandem_backup_last_run_success', { fleet: 'fleet' }), 1);
  // The rehearsal role restores nothing, but the agent runs every phase of the drill's restore.
  const m = await scrape(f.agents[0]);
  assert.is(sampleValue(m, 'tandem_agent_restores_total', { outcome: 'success' }), 1);
  assert.is(sampleValue(m, 'tandem_agent_phase_duration_seconds_count', { operation: 'restore', phase: 'cleanup' }), 1);
  assert.ok(sampleValue(m, 'tandem_agent_last_success_timestamp_seconds', { operation: 'restore' })! > 0);
});

test('metrics over TLS: the agent\'s certificate, a client certificate from the fleet\'s CA required', async () => {
  const f = await fleetOf([{ node: 'n1', metrics: 'tls' }]);
  const { request } = await import('node:https');
  const get = (client: boolean) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: f.agents[0].metricsPort,
        path: '/metrics',
        servername: 'n1',
        ca: readFileSync(join(f.pki, 'ca.crt')),
        ...(client ? { cert: readFileSync(join(f.pki, 'coordinator.crt')), key: readFileSync(join(f.pki, 'coordinator.key')) } : {}),
      }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const ok = await get(true);
  assert.is(ok.status, 200);
  assert.is(sampleValue(parsePromText(ok.body), 'tandem_agent_backups_total', { outcome: 'success' }), 0);
  const refused = await get(false).then((r) => `HTTP ${r.status}`, (err: Error) => err.message);
  assert.not.match(refused, /^HTTP 200/, 'no client certificate, no metrics');
});

test('metrics are off by default; a non-loopback metrics address is refused by the config check', async () => {
  const f = await fleetOf([{ node: 'n1' }]);
  assert.ok(f.agents[0].log.some((l) => l.includes('"metricsPort":null')), 'no metrics server');
  const config = JSON.parse(readFileSync(f.agents[0].config, 'utf8'));
  const bad = join(f.dir, 'bad.yaml');
  writeFileSync(bad, JSON.stringify({ ...config, metrics: { listen: '0.0.0.0:9464' } }));
  const { spawnSync } = await import('node:child_process');
  const { AGENT_MAIN } = await import('../helpers/fleet');
  const r = spawnSync(process.execPath, [AGENT_MAIN, '--check-config', bad], { encoding: 'utf8' });
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /metrics.*loopback.*tls: true/);
  writeFileSync(bad, JSON.stringify({ ...config, metrics: { listen: '0.0.0.0:9464', tls: true } }));
  const tls = spawnSync(process.execPath, [AGENT_MAIN, '--check-config', bad], { encoding: 'utf8' });
  assert.is(tls.status, 0, tls.stderr);
});

test.run();
