/**
 * Side-by-side benchmark of a cluster snapshot on the sandbox, in one run on the same data:
 *   (a) the seed's per-node steps, one node after another (nodetool snapshot, tar cjf per table)
 *   (b) the same commands started on every node at once
 *   (c) tandem backup (two-phase, the helper JVM's JMX snapshot, parallel compression)
 * For each: the spread between the nodes' snapshot instants (Cassandra's own created_at) and
 * the total wall time, median and worst of several rounds run in a rotated order. Not a test:
 * it asserts nothing and prints what it measured.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { readCreatedAt } from '../../agent/roles/cassandra/snapshot-files';
import { cassandraRoleSettings, readSandboxEnv } from '../sandbox';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { median, roundOrder } from './stats';
import { checkSignature, signatureFor } from '../../shared/signing';
import { signingKeyAt } from '../helpers/signing';

type Node = ReturnType<typeof readSandboxEnv>['cassandra']['nodes'][number];

/** The seed's steps on one node: snapshot, then one `tar cjf` per table into outDir. */
async function seedSteps(n: Node, tag: string, outDir: string): Promise<number> {
  await runCommand([n.nodetool, 'snapshot', '-t', tag, 'thehive']);
  const ks = join(n.dataDir, 'thehive');
  let createdAt = 0;
  for (const t of await readdir(ks)) {
    const snap = join(ks, t, 'snapshots', tag);
    // Folders of dropped tables linger after a keyspace is recreated: they hold no such snapshot.
    const at = await readCreatedAt(snap);
    if (at === null) continue;
    createdAt ||= at;
    await runCommand(['tar', 'cjf', join(outDir, `${n.name}-${t}.tbz`), '-C', snap, '.']);
  }
  return createdAt;
}

async function clear(nodes: Node[], tag: string): Promise<void> {
  for (const n of nodes) await runCommand([n.nodetool, 'clearsnapshot', '-t', tag, '--', 'thehive']);
}

/** One way's runs. */
export interface BackupBenchRow {
  method: string;
  spreadMs: number[];
  wallSeconds: number[];
}

type Way = { method: string; run: (tag: string, out: string) => Promise<{ instants?: number[]; spreadMs?: number }> };

/**
 * Runs (a)–(d) on the sandbox, `rounds` times each, in an order rotated from round to round
 * (stats.ts): the seed's commands do not always read a cold page cache and tandem a warm one.
 */
export async function benchBackup(rounds = 3, onRun: (method: string, round: number) => void = () => undefined): Promise<{ rows: BackupBenchRow[]; signing: SigningShare[] }> {
  const env = readSandboxEnv();
  const nodes = env.cassandra.nodes;
  // Both fleets are started before any run is timed: an agent's start is not a backup's cost.
  const fleets = new Map<boolean, TestFleet>();
  for (const countRows of [true, false]) {
    const fleet = await makeFleet(nodes.map((n) => ({ node: n.name, roles: { cassandra: { ...cassandraRoleSettings(env, n), countRows } } })), { prepareTimeoutMs: 300_000 });
    fleets.set(countRows, fleet);
    await startFleet(fleet);
  }
  const tandem = (countRows: boolean) => async () => {
    const fleet = fleets.get(countRows)!;
    const r = await runCli(['backup', '--config', fleet.fleetFile, '--json', '--full']);
    const o = JSON.parse(r.stdout || '{}');
    if (o.status !== 'complete') throw new Error(`tandem backup did not complete: ${r.stderr}`);
    if (countRows) signed.push({ fleet, id: o.id as string });
    return { spreadMs: o.snapshotSpreadMs as number };
  };
  const signed: { fleet: TestFleet; id: string }[] = [];
  const ways: Way[] = [
    { method: '(a) seed, node after node', run: async (tag, out) => { const instants: number[] = []; for (const n of nodes) instants.push(await seedSteps(n, tag, out)); return { instants }; } },
    { method: '(b) seed, all nodes at once', run: async (tag, out) => ({ instants: await Promise.all(nodes.map((n) => seedSteps(n, tag, out))) }) },
    // (c) as shipped; (d) without the row count recorded for the restore check, to show what it costs.
    { method: '(c) tandem backup --full', run: tandem(true) },
    { method: '(d) tandem backup --full, countRows: false', run: tandem(false) },
  ];
  const rows = new Map(ways.map((w) => [w.method, { method: w.method, spreadMs: [] as number[], wallSeconds: [] as number[] }]));
  const shares: SigningShare[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const way of roundOrder(ways, round)) {
        // Not a `tandem-` tag: an agent starting clears every `tandem-` snapshot it did not take as debris of an earlier run.
        const tag = `seed-bench-${round}-${Date.now()}`;
        const out = await scratchDir('bench-backup');
        const t0 = Date.now();
        try {
          const r = await way.run(tag, out);
          const row = rows.get(way.method)!;
          row.wallSeconds.push((Date.now() - t0) / 1000);
          if (way.method.startsWith('(c)')) shares.push(await signingShare(signed[signed.length - 1], (Date.now() - t0) / 1000));
          row.spreadMs.push(r.spreadMs ?? Math.max(...r.instants!) - Math.min(...r.instants!));
          onRun(way.method, round);
        } finally {
          if (way.method.startsWith('(a)') || way.method.startsWith('(b)')) await clear(nodes, tag);
          removeScratch(out);
        }
      }
    }
  } finally {
    for (const f of fleets.values()) await removeFleet(f);
  }
  return { rows: [...rows.values()], signing: shares };
}

/** What signing and checking took in one backup and in one verify of the same set, beside their wall times. */
export interface SigningShare {
  id: string;
  manifestBytes: number;
  /** Sets at the destination when the backup ran: each one's signature is checked to choose the parent. */
  setsChecked: number;
  signMs: number;
  checkMs: number;
  backupSeconds: number;
  verifySeconds: number;
}

/**
 * Times, in this process and on the set's own manifest, the work signing adds: one signature
 * made by the backup, one check per set at the destination (the parent choice reads them all)
 * and one check by the verify; then runs `tandem verify` of the set for its wall time.
 */
async function signingShare(set: { fleet: TestFleet; id: string }, backupSeconds: number): Promise<SigningShare> {
  const body = readFileSync(join(set.fleet.destDir, set.id, 'manifest.json'));
  const key = signingKeyAt(set.fleet.signing.key);
  const trusted = new Map([[key.keyId, key.publicKey]]);
  const setsChecked = (await readdir(set.fleet.destDir)).filter((n) => existsSync(join(set.fleet.destDir, n, 'manifest.json'))).length;
  const sign: number[] = [];
  const check: number[] = [];
  for (let i = 0; i < 11; i++) {
    let t0 = process.hrtime.bigint();
    const sig = Buffer.from(signatureFor(key, 'manifest.json', body));
    sign.push(Number(process.hrtime.bigint() - t0) / 1e6);
    t0 = process.hrtime.bigint();
    if (!checkSignature(sig, 'manifest.json', body, trusted).ok) throw new Error('the signature did not check');
    check.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const t0 = Date.now();
  const v = await runCli(['verify', set.id, '--config', set.fleet.fleetFile]);
  if (v.code !== 0) throw new Error(`tandem verify ${set.id} failed: ${v.stderr}`);
  return { id: set.id, manifestBytes: body.length, setsChecked, signMs: median(sign), checkMs: median(check), backupSeconds, verifySeconds: (Date.now() - t0) / 1000 };
}

/** The signing share of each (c) run: sign + a check per set, against the backup; one check, against the verify. */
export function printSigningShare(shares: readonly SigningShare[]): void {
  console.log('  signing and checking inside (c), on each set\'s own manifest (median of 11, this process), against the wall times:');
  for (const s of shares) {
    const backupMs = s.signMs + s.setsChecked * s.checkMs;
    console.log(
      `    ${s.id}: manifest ${s.manifestBytes} B; backup ${s.backupSeconds.toFixed(1)} s, of it sign ${s.signMs.toFixed(2)} ms + ${s.setsChecked} × check ${s.checkMs.toFixed(2)} ms = ${((100 * backupMs) / (s.backupSeconds * 1000)).toFixed(3)} %; ` +
        `verify ${s.verifySeconds.toFixed(1)} s, of it check ${s.checkMs.toFixed(2)} ms = ${((100 * s.checkMs) / (s.verifySeconds * 1000)).toFixed(3)} %`,
    );
  }
}
