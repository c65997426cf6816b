/**
 * Faults injected into backups on the real sandbox, with the hot writer running. Every case ends
 * the same way: after the fault, the next run (`tandem recover`) leaves either a complete set
 * that verifies, or nothing at all (no Cassandra snapshot, no Elasticsearch snapshot, nothing at
 * the destination, no agent still holding the backup, nothing open in the coordinator's journal).
 */
import { observe, type FaultCase, type Observation } from './case';
import {
  ackedBeforeCut,
  faultFleet,
  isComplete,
  killAgent,
  leftovers,
  recover,
  restartAgent,
  sleep,
  startBackup,
  verifyProblem,
  writerRecords,
  type BackupRun,
  minioDestination,
  rsyncDestination,
  withDestination,
  type FaultFleet,
} from './sandbox-fleet';
import { agentAnswers, cassandraAnswers, elasticsearchAnswers } from './resumed';
import { restoreAndCount } from './records';
import { readPid } from '../sandbox/procs';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { JournalStep } from '../../coordinator/backup/journal';
import { dirname, join } from 'node:path';
import { runCommand } from '../../shared/exec';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { storedUnder } from '../helpers/debris';
import type { DestinationConfig } from '../../shared/destination';

let seq = 0;
const newId = (what: string) => `fault-${what}-${Date.now().toString(36)}-${++seq}`;

/** What a case expects at the end: a complete set that verifies, or nothing at all. */
type Expect = 'complete' | 'nothing';

interface Scenario {
  /** Runs the backup through another view of the fleet (another destination); undone by `teardown`. */
  setup?(f: FaultFleet): Promise<FaultFleet>;
  teardown?(): Promise<void>;
  /** Coordinator fault point to stop at before injecting (none: inject while it runs). */
  point?: string;
  /** The fault, while the coordinator is stopped at `point` (or running). */
  inject(f: FaultFleet, run: BackupRun, id: string): Promise<void>;
  /** 'kill': the coordinator dies (kill -9); 'continue': it resumes (SIGCONT) and runs to its end. */
  coordinator: 'kill' | 'continue';
  /** Undoes the fault once the coordinator has ended (restart the agent, resume a service). */
  heal?(f: FaultFleet): Promise<void>;
  expect: Expect;
  /** The exit code of `tandem backup` (null: the coordinator was killed). */
  exit: number | null;
  /** What its JSON outcome's reason must say. */
  reason?: RegExp;
  /**
   * The journal step the fault hit: for a killed coordinator the step `tandem recover` found, else
   * the last step the run reached before it ended. A case whose fault landed elsewhere fails.
   */
  step: JournalStep;
  /** Restore a complete set into scratch targets and count the writer's records it lost. */
  countRecords?: boolean;
}

/** The last working step the run's journal entry reached before it ended (finished steps left out). */
function lastWorkingStep(f: FaultFleet, id: string): string | null {
  const file = join(f.fleet.coordinatorDir, 'journal', `${id}.json`);
  if (!existsSync(file)) return null;
  const steps = JSON.parse(readFileSync(file, 'utf8')).steps as Record<string, number>;
  const working = Object.entries(steps).filter(([step]) => !['complete', 'aborted', 'failed', 'cleaning'].includes(step));
  return working.sort((a, b) => a[1] - b[1]).pop()?.[0] ?? null;
}

/** Runs one scenario and checks its end state. */
async function scenario(what: string, s: Scenario): Promise<Observation> {
  const base = await faultFleet();
  const f = s.setup ? await s.setup(base) : base;
  try {
    return await observeScenario(f, what, s);
  } finally {
    await s.teardown?.();
  }
}

async function observeScenario(f: FaultFleet, what: string, s: Scenario): Promise<Observation> {
  const id = newId(what);
  const fromLine = writerRecords(f).length;
  const run = await startBackup(f, id, s.point);
  const problems: string[] = [];
  let exit: number | null = null;
  try {
    await s.inject(f, run, id);
  } finally {
    if (s.coordinator === 'kill') run.child.kill('SIGKILL');
    else run.child.kill('SIGCONT');
    exit = await run.exited;
    await s.heal?.(f);
  }
  let said = exit === null ? 'coordinator killed' : `exit ${exit}`;
  if (exit !== s.exit) problems.push(`exit ${exit ?? 'killed'}, expected ${s.exit ?? 'killed'}`);
  if (exit !== null) {
    try {
      const out = JSON.parse(run.stdout) as { status: string; reason: string };
      said += ` ${out.status}${out.reason ? `: ${out.reason.slice(0, 160)}` : ''}`;
      if (out.status === 'complete' && exit !== 0) problems.push('complete but a non-zero exit');
      if (out.status !== 'complete' && (exit === 0 || !out.reason)) problems.push('not complete, yet exit 0 or no reason');
      if (s.reason && !s.reason.test(out.reason)) problems.push(`the reason does not match ${s.reason}`);
    } catch {
      problems.push(`no JSON outcome on stdout (exit ${exit})`);
    }
  }
  const ranTo = exit === null ? null : lastWorkingStep(f, id);
  // The next run.
  const rec = await recover(f);
  if (rec.code !== 0) problems.push(`tandem recover exit ${rec.code}: ${rec.stderr.trim().split('\n').slice(-1)[0]}`);
  const r = rec.recovered.find((x) => x.id === id);
  if (r) said += `; recover: ${r.result}`;
  const hit = exit === null ? (r?.from ?? null) : ranTo;
  said = `[step ${hit ?? 'none'}] ${said}`;
  if (hit !== s.step) problems.push(`the fault hit step ${hit ?? 'none'}, not ${s.step}`);
  const complete = await isComplete(f, id);
  said += complete ? '; set complete' : '; no set';
  if (s.expect === 'complete' && !complete) problems.push('expected a complete set');
  if (s.expect === 'nothing' && complete) problems.push('expected nothing, found a complete set');
  if (complete) {
    const v = await verifyProblem(f, id);
    if (v) problems.push(v);
    else said += ', verifies';
  }
  const left = await leftovers(f, id, complete);
  problems.push(...left.map((l) => `left behind: ${l}`));
  let lost: number | null = null;
  if (complete && s.countRecords) {
    const acked = ackedBeforeCut(f, id, fromLine);
    lost = await restoreAndCount(f, id, acked);
    if (lost > 0) problems.push(`${lost} of ${acked.length} acknowledged records missing from the restored set`);
    said += `; ${acked.length} records acked before the cut`;
  }
  return observe(said, problems, left.length ? left.join('; ') : 'none', lost);
}

const kill9Coordinator = (point: string, expect: Expect, phase: string, step: JournalStep): FaultCase => ({
  kind: 'fault',
  name: 'kill -9 of the coordinator',
  phase,
  expected: expect === 'complete' ? 'recover completes the set; it verifies; no acknowledged record lost' : 'recover aborts everywhere; nothing left',
  needs: 'sandbox',
  quick: false,
  run: () => scenario(`coord-${point}`, { point, coordinator: 'kill', inject: async () => undefined, expect, exit: null, step, countRecords: expect === 'complete' }),
});

const kill9Agent = (
  point: string | undefined,
  expect: Expect,
  phase: string,
  step: JournalStep,
  reason: RegExp | undefined,
  inject?: (f: FaultFleet, run: BackupRun, id: string) => Promise<void>,
): FaultCase => ({
  kind: 'fault',
  name: 'kill -9 of node2\'s agent (restarted after)',
  phase,
  expected: expect === 'complete' ? 'the set completes; it verifies; no acknowledged record lost' : `aborted, exit 1 naming node2; nothing left once node2 is back`,
  needs: 'sandbox',
  quick: false,
  run: () => scenario(`agent-${point ?? 'prepare'}`, {
    point,
    coordinator: 'continue',
    inject: inject ?? (async (f) => killAgent(f, 'node2')),
    heal: (f) => restartAgent(f, 'node2'),
    expect,
    exit: expect === 'complete' ? 0 : 1,
    reason,
    step,
    countRecords: expect === 'complete',
  }),
});

/** Kills node2's agent as soon as it logs that it started preparing `id`, and confirms it had not voted yet. */
async function killNode2WhilePreparing(f: FaultFleet, id: string): Promise<void> {
  const a = f.agent('node2');
  const from = a.log.length;
  const said = (what: string) => a.log.slice(from).some((l) => l.includes(`"${what}"`) && l.includes(id));
  for (const end = Date.now() + 60_000; !said('preparing'); await sleep(5)) {
    if (Date.now() > end) throw new Error(`node2 never started preparing ${id}`);
  }
  await killAgent(f, 'node2');
  if (said('prepared') || said('voting no')) throw new Error(`node2 had already voted on ${id} when it was killed: the fault missed Prepare`);
}

/** SIGSTOP of a process for the length of the run, SIGCONT after. */
const stopped = (
  name: string,
  phase: string,
  point: string | undefined,
  pid: (f: FaultFleet) => number,
  ready: (f: FaultFleet) => Promise<void>,
  expected: string,
  expect: Expect,
  step: JournalStep,
  reason: RegExp,
): FaultCase => {
  let target = 0;
  return {
    kind: 'fault',
    name,
    phase,
    expected,
    needs: 'sandbox',
    quick: false,
    run: () => scenario(`stop-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 20)}`, {
      point,
      coordinator: 'continue',
      inject: async (f) => {
        target = pid(f);
        process.kill(target, 'SIGSTOP');
      },
      heal: async (f) => {
        process.kill(target, 'SIGCONT');
        await ready(f);
      },
      expect,
      exit: expect === 'complete' ? 0 : 1,
      reason,
      step,
    }),
  };
};

const agentPid = (node: string) => (f: FaultFleet) => {
  const p = f.agent(node).process?.pid;
  if (!p) throw new Error(`${node}'s agent is not running`);
  return p;
};

/** A sandbox daemon's process group (it was started detached: the JVM and any wrapper stop together). */
const daemonPid = (name: string) => () => {
  const p = readPid(name);
  if (!p) throw new Error(`sandbox daemon ${name} is not running`);
  return -p;
};

export const sandboxFaultCases: FaultCase[] = [
  kill9Coordinator('before-prepare', 'nothing', 'prepare', 'preparing'),
  kill9Coordinator('before-commit', 'nothing', 'between prepare and commit', 'committing'),
  kill9Coordinator('shipping', 'complete', 'shipping', 'shipping'),
  kill9Coordinator('before-manifest', 'complete', 'manifest write', 'writing-manifest'),
  kill9Coordinator('after-manifest', 'complete', 'after the manifest write', 'writing-manifest'),
  kill9Agent(undefined, 'nothing', 'prepare', 'preparing', /node2/, (f, _run, id) => killNode2WhilePreparing(f, id)),
  kill9Agent('before-commit', 'nothing', 'between prepare and commit', 'committing', /node2/),
  kill9Agent('shipping', 'nothing', 'shipping', 'shipping', /node2/),
  kill9Agent('before-manifest', 'complete', 'manifest write', 'writing-manifest', undefined),
  stopped("SIGSTOP of node2's agent past Commit's deadline", 'commit', 'before-commit', agentPid('node2'), agentAnswers('node2'), 'failed, exit 1 naming node2; node2 cleaned by recover once resumed', 'nothing', 'committing', /node2/),
  stopped('SIGSTOP of Cassandra node3', 'prepare', undefined, daemonPid('cassandra-node3'), cassandraAnswers('node3'), 'aborted in Prepare, exit 1 naming node3, nothing left', 'nothing', 'preparing', /node3/),
  stopped('Elasticsearch stopped (SIGSTOP)', 'shipping', 'shipping', daemonPid('elasticsearch'), elasticsearchAnswers, 'failed, exit 1 naming Elasticsearch; its snapshot deleted by recover once ES is back', 'nothing', 'shipping', /elasticsearch/i),
  destinationFull(),
  serverKilled('minio', 'MinIO killed mid-upload (S3 destination)'),
  serverKilled('sshd', 'sshd killed mid-rsync (rsync destination)'),
  {
    kind: 'fault',
    name: 'two coordinators at once',
    phase: 'shipping',
    expected: 'the second refused at once (exit 1, names the running id); the first completes and verifies',
    needs: 'sandbox',
    quick: false,
    run: async () => {
      let second = '';
      const o = await scenario('two-coordinators', {
        point: 'shipping',
        coordinator: 'continue',
        inject: async (f) => {
          const { runCli } = await import('../helpers/fleet');
          const b = await runCli(['backup', '--config', f.fleet.fleetFile, '--json', '--id', newId('second')]);
          second = `second: exit ${b.code}`;
          if (b.code !== 1 || !/another tandem backup is running/.test(b.stderr)) throw new Error(`the second coordinator was not refused by the lock: ${b.stderr.slice(-300)}`);
        },
        expect: 'complete',
        exit: 0,
        step: 'writing-manifest',
        countRecords: true,
      });
      return { ...o, observed: `${second}; first: ${o.observed}` };
    },
  },
];

/** A local destination on a 1 MiB tmpfs (mounted as root): the first archives fill it while shipping. */
function destinationFull(): FaultCase {
  let mnt = '';
  return {
    kind: 'fault',
    name: 'destination full (1 MiB tmpfs)',
    phase: 'shipping',
    expected: 'failed, exit 1 naming ENOSPC; nothing left at the destination or on the nodes',
    needs: 'sandbox',
    quick: false,
    run: () => scenario('dest-full', {
      setup: async (f) => {
        mnt = await scratchDir('faults-full');
        await runCommand(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', mnt], { timeoutMs: 10_000 });
        return withDestination(f, 'dest-full', { type: 'local', path: mnt });
      },
      teardown: async () => {
        await runCommand(['umount', mnt], { timeoutMs: 10_000 }).catch(() => undefined);
        removeScratch(mnt);
      },
      coordinator: 'continue',
      inject: async () => undefined,
      expect: 'nothing',
      exit: 1,
      reason: /ENOSPC|no space left/i,
      step: 'shipping',
    }),
  };
}

/** A destination's server killed (kill -9) while the agents upload to it, brought back by `sandbox up` after the run. */
function serverKilled(daemon: 'minio' | 'sshd', name: string): FaultCase {
  let bigAttachment = '';
  let inFlight = 0;
  return {
    kind: 'fault',
    name,
    phase: 'shipping',
    expected: `failed, exit 1; the partial uploads removed by recover once ${daemon} is back${daemon === 'minio' ? ' (a multipart upload in flight at the kill)' : ''}`,
    needs: 'sandbox',
    quick: false,
    run: async () => {
      const o = await scenario(`${daemon}-killed`, {
      setup: async (f) => {
        // The backup host's folder is the operator's to create (Preflight checks that it exists).
        if (daemon === 'sshd') mkdirSync(join(f.env.sshd.backupHostDir, 'faults'), { recursive: true });
        if (daemon === 'sshd') return withDestination(f, `${daemon}-killed`, rsyncDestination(f.env));
        // The 5 MB seed holds no file as large as one part: an attachment of 48 MiB, sent in 5 MiB parts, is a multipart upload in flight when MinIO dies.
        bigAttachment = join(f.env.files.dir, `faults-multipart-${process.pid}`, 'attachment.bin');
        mkdirSync(dirname(bigAttachment), { recursive: true });
        writeFileSync(bigAttachment, randomBytes(48 << 20));
        return withDestination(f, `${daemon}-killed`, { ...minioDestination(f.env), partSizeMiB: 5 } as DestinationConfig);
      },
      teardown: async () => {
        if (bigAttachment) rmSync(dirname(bigAttachment), { recursive: true, force: true });
      },
      point: 'shipping',
      coordinator: 'continue',
      inject: async (f, _run, id) => {
        if (daemon === 'minio') inFlight = await untilMultipartInFlight(f, id);
        const pid = readPid(daemon);
        if (!pid) throw new Error(`sandbox daemon ${daemon} is not running`);
        process.kill(-pid, 'SIGKILL');
        // sshd's sessions leave its process group (setsid): the transfers in flight go with their rsync servers.
        if (daemon === 'sshd') await runCommand(['pkill', '-KILL', '-f', 'rsync --server.*backup-host/faults'], { timeoutMs: 10_000 }).catch(() => undefined);
      },
      heal: async () => {
        await runCommand([process.execPath, join(__dirname, '../sandbox/main.js'), 'up'], { timeoutMs: 300_000 });
      },
      expect: 'nothing',
      exit: 1,
      reason: daemon === 'minio' ? /node1|s3|upload/i : /node1|rsync|ssh/i,
      step: 'shipping',
      });
      return daemon === 'minio' ? { ...o, observed: `${inFlight} multipart upload(s) in flight at the kill; ${o.observed}` } : o;
    },
  };
}

/** Waits until an S3 multipart upload of backup `id` is in progress (the point to kill MinIO at); returns how many are. */
async function untilMultipartInFlight(f: FaultFleet, id: string): Promise<number> {
  for (const end = Date.now() + 120_000; Date.now() < end; await sleep(20)) {
    const { uploads } = await storedUnder(f.destination, `${id}/`);
    if (uploads.length) return uploads.length;
  }
  throw new Error(`no multipart upload of ${id} was in flight within 120 s: the case would not test an upload cut off`);
}
