/**
 * Faults during a restore, on the sandbox: an agent killed (kill -9) in a phase. The restore stops
 * there with the reason; once the agent is back, the same command with the same --restore-id
 * resumes it and ends with every table as at the cut, and nothing of the restore stays on the
 * nodes (its work folders, Cassandra's snapshots of what it replaced).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { parseSnapshotTags } from '../../agent/roles/cassandra/nodetool';
import { runCommand } from '../../shared/exec';
import { CLI_MAIN, runCli } from '../helpers/fleet';
import { observe, type FaultCase } from './case';
import { faultFleet, killAgent, restartAgent, sleep, type FaultFleet } from './sandbox-fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';

const SCRATCH = 'thehive_faults_restore';
const PREFIX = 'faults-restore-';

/** A complete set to restore, taken once. */
let set: Promise<string> | null = null;
function aSet(f: FaultFleet): Promise<string> {
  set ??= (async () => {
    const id = `fault-restore-src-${Date.now().toString(36)}`;
    const b = await runCli(['backup', '--config', f.fleet.fleetFile, '--json', '--id', id]);
    if (b.code !== 0) throw new Error(`the backup to restore failed: ${b.stderr.slice(-300)}`);
    return id;
  })();
  return set;
}

function killedInRestorePhase(phase: 'fetch' | 'load'): FaultCase {
  return {
    kind: 'fault',
    name: "kill -9 of node2's agent (restarted after)",
    phase: `restore:${phase}`,
    expected: 'restore stops, exit 1 naming node2; rerun with --restore-id resumes to every table as at the cut; nothing left on the nodes',
    needs: 'sandbox',
    quick: false,
    async run() {
      const f = await faultFleet();
      const id = await aSet(f);
      const restoreId = `restore-fault-${phase}-${Date.now().toString(36)}`;
      const filesTarget = await scratchDir('faults-restore');
      const args = ['restore', id, '--config', f.fleet.fleetFile, '--yes', '--json', '--restore-id', restoreId,
        '--target-keyspace', SCRATCH, '--index-prefix', PREFIX, '--files-target', filesTarget];
      const problems: string[] = [];
      let observed = '';
      try {
        const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        const exited = new Promise<number | null>((r) => child.once('close', r));
        for (const end = Date.now() + 300_000; !err.includes(`restore phase ${phase}`) && Date.now() < end;) await sleep(50);
        await killAgent(f, 'node2');
        const code = await exited;
        await restartAgent(f, 'node2');
        observed = `first run exit ${code}`;
        if (code === 0) problems.push('the restore succeeded with node2 killed');
        else if (!/node2/.test(err)) problems.push('the failure does not name node2');
        const again = await runCli(args);
        const out = (() => { try { return JSON.parse(again.stdout) as { ok: boolean; problems: string[] }; } catch { return null; } })();
        observed += `; resumed: exit ${again.code}${out ? (out.ok ? ', verified' : `, ${out.problems.slice(0, 2).join('; ')}`) : ''}`;
        if (again.code !== 0 || !out?.ok) problems.push(`the resumed restore did not verify: ${again.stderr.trim().split('\n').slice(-2).join(' ')}`);
      } finally {
        removeScratch(filesTarget);
      }
      const left: string[] = [];
      for (const a of f.fleet.agents) if (existsSync(join(a.stateDir, 'restore', restoreId))) left.push(`${a.node}: restore work folder`);
      await dropScratch(f, left);
      problems.push(...left.map((l) => `left behind: ${l}`));
      return observe(observed, problems, left.length ? left.join('; ') : 'none');
    },
  };
}

/** Drops the scratch copy (the test's own DROP's snapshots are cleared too); reports tandem's leftovers of it first. */
async function dropScratch(f: FaultFleet, left: string[]): Promise<void> {
  await Promise.all(f.env.cassandra.nodes.map(async (n) => {
    const tags = parseSnapshotTags((await runCommand([n.nodetool, 'listsnapshots'], { timeoutMs: 120_000 })).stdout);
    for (const t of tags.filter((x) => x.keyspace === SCRATCH)) left.push(`${n.name}: snapshot ${t.tag}`);
  }));
  const cql = new Client({ contactPoints: ['127.0.0.1'], localDataCenter: 'datacenter1' });
  await cql.connect();
  try {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${SCRATCH}`);
  } finally {
    await cql.shutdown();
  }
  await fetch(`${f.env.elasticsearch.url}/${PREFIX}*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => undefined);
  await Promise.all(f.env.cassandra.nodes.map(async (n) => {
    const tags = parseSnapshotTags((await runCommand([n.nodetool, 'listsnapshots'], { timeoutMs: 120_000 })).stdout);
    for (const t of tags.filter((x) => x.keyspace === SCRATCH)) await runCommand([n.nodetool, 'clearsnapshot', '-t', t.tag, '--', SCRATCH], { timeoutMs: 120_000 });
  }));
}

export const restoreFaultCases: FaultCase[] = [killedInRestorePhase('fetch'), killedInRestorePhase('load')];
