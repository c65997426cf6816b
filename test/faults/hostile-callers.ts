/**
 * Hostile callers and hostile calls against real agents (the rehearsal role, mutual TLS on
 * loopback): certificates that are not the coordinator's, RPCs out of order, an oversized
 * message, and a backup and a restore at once. Each case starts its own test fleet, tries, checks
 * that the agent refused and changed nothing, and stops the fleet.
 */
import * as grpc from '@grpc/grpc-js';
import { manifestPath } from '../../shared/destination/layout';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openFleet, type AgentHandle } from '../../coordinator/fleet';
import { errorMessage } from '../../shared/errors';
import { AgentClient, AgentState, type BackupPlan, type RestoreRequest } from '../../shared/generated/tandem/v2/agent';
import { manifestDigest } from '../../shared/manifest';
import { clientCredentials, type TlsFiles } from '../../shared/rpc/tls';
import { toWireDestination } from '../../shared/wire/destination';
import { localPlan } from '../helpers/plan';
import { parseRestoreOptions, toWirePhase, toWireRestoreOptions, type RestoreOptionsInput } from '../../shared/wire/restore';
import type { RestorePhase } from '../../shared/contract';
import { oddCert, otherCa } from '../helpers/certs';
import { handles, makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { observe, type FaultCase, type Observation } from './case';

/** A plan as the coordinator sends it, to the fleet's local destination, with default options. */
export function fleetPlan(f: TestFleet, id: string, leaseMs = 30_000): BackupPlan {
  return localPlan(id, f.destDir, leaseMs);
}

/** Runs `fn` with a started fleet of n1 and n2 (rehearsal role); stops it and removes its folder after. */
async function withFleet<T>(fn: (f: TestFleet) => Promise<T>, rehearsal: Record<string, unknown> = {}): Promise<T> {
  const f = await makeFleet([{ node: 'n1', roles: { rehearsal } }, { node: 'n2', roles: { rehearsal } }]);
  try {
    await startFleet(f);
    return await fn(f);
  } finally {
    await removeFleet(f);
  }
}

/** Runs `fn` with the coordinator's handle to n1. */
async function asCoordinator<T>(f: TestFleet, fn: (h: AgentHandle) => Promise<T>): Promise<T> {
  const [h] = handles(f, ['n1']);
  try {
    return await fn(h);
  } finally {
    h.close();
  }
}

/** What went wrong with a call that had to fail with `code` and a message matching `pattern`: '' when it did. */
async function refusedWith(what: string, call: () => Promise<unknown>, code: RegExp, pattern = /./): Promise<string> {
  try {
    await call();
    return `${what} was accepted`;
  } catch (err) {
    const m = errorMessage(err);
    return code.test(m) && pattern.test(m) ? '' : `${what} failed otherwise than expected: ${m}`;
  }
}

/** Everything n1 knows or left about backup `id`: its state record, markers, destination folder. Empty: nothing. */
async function tracesOf(f: TestFleet, id: string): Promise<string[]> {
  const a = f.agents.find((x) => x.node === 'n1')!;
  const out: string[] = [];
  const state = await readFile(join(a.stateDir, 'state.json'), 'utf8').catch(() => '');
  if (state.includes(JSON.stringify(id))) out.push(`n1 state.json has an entry for ${id}`);
  if (existsSync(join(a.markerDir, id))) out.push(`n1 ran steps for ${id}: ${(await readdir(join(a.markerDir, id))).join(', ')}`);
  if (existsSync(join(f.destDir, id))) out.push(`${id}/ exists at the destination`);
  const status = await asCoordinator(f, (h) => h.status(id, 3000)).then((s) => AgentState[s.state], (err) => errorMessage(err));
  if (!/NOT_FOUND/.test(status)) out.push(`n1 answers GetStatus ${id} with ${status}`);
  return out;
}

/** A caller with credentials that are not the coordinator's. */
interface HostileCaller {
  name: string;
  /** Where TLS (or the interceptor) must stop it. */
  expected: string;
  /** The status the calls must fail with. */
  code: RegExp;
  /** What the health service answers it, when not `code`: SERVING for a fleet clientAuth certificate of any name. */
  health?: RegExp | 'SERVING';
  /** Its TLS files (undefined: plaintext), made in the fleet's folder. */
  tls(f: TestFleet): Promise<TlsFiles | undefined>;
}

const fleetCa = (f: TestFleet) => join(f.pki, 'ca.crt');

/** Every kind of caller that is not the coordinator. */
export const HOSTILE_CALLERS: HostileCaller[] = [
  {
    name: 'a plaintext caller',
    expected: 'refused at the handshake (UNAVAILABLE), nothing changed',
    code: /UNAVAILABLE/,
    tls: async () => undefined,
  },
  {
    name: 'a self-signed certificate named coordinator, for clientAuth',
    expected: 'refused at the handshake (UNAVAILABLE), nothing changed',
    code: /UNAVAILABLE/,
    tls: (f) => oddCert(join(f.dir, 'odd'), { file: 'self', name: 'coordinator', eku: 'clientAuth', signer: 'self' }, fleetCa(f)),
  },
  {
    name: 'a certificate of another CA named coordinator, for clientAuth',
    expected: 'refused at the handshake (UNAVAILABLE), nothing changed',
    code: /UNAVAILABLE/,
    tls: async (f) => oddCert(join(f.dir, 'odd'), { file: 'other', name: 'coordinator', eku: 'clientAuth', signer: await otherCa(join(f.dir, 'other-ca')) }, fleetCa(f)),
  },
  {
    name: 'an expired certificate of the fleet CA named coordinator, for clientAuth',
    expected: 'refused at the handshake (UNAVAILABLE), nothing changed',
    code: /UNAVAILABLE/,
    tls: (f) => oddCert(join(f.dir, 'odd'), { file: 'expired', name: 'coordinator', eku: 'clientAuth', signer: f.pki, days: -1 }, fleetCa(f)),
  },
  {
    name: 'a certificate of the fleet CA named coordinator with no extended key usage',
    expected: 'refused by the agent (PERMISSION_DENIED naming clientAuth), nothing changed',
    code: /PERMISSION_DENIED: .*not issued for clientAuth.*"coordinator"/,
    health: /PERMISSION_DENIED: .*not issued for clientAuth/,
    tls: (f) => oddCert(join(f.dir, 'odd'), { file: 'no-eku', name: 'coordinator', eku: null, signer: f.pki }, fleetCa(f)),
  },
  {
    name: "an agent's certificate (n2's, serverAuth only)",
    expected: 'refused (UNAVAILABLE at the handshake, or PERMISSION_DENIED), nothing changed',
    code: /UNAVAILABLE|PERMISSION_DENIED: .*clientAuth/,
    tls: async (f) => ({ ca: fleetCa(f), cert: join(f.pki, 'n2.crt'), key: join(f.pki, 'n2.key') }),
  },
  {
    name: 'a clientAuth certificate of the fleet CA with another name (intruder)',
    expected: 'refused by the agent (PERMISSION_DENIED naming "coordinator"), nothing changed',
    code: /PERMISSION_DENIED: .*names "intruder".*"coordinator"/,
    health: 'SERVING',
    tls: (f) => oddCert(join(f.dir, 'odd'), { file: 'intruder', name: 'intruder', eku: 'clientAuth', signer: f.pki }, fleetCa(f)),
  },
];

/**
 * Has `caller` try every kind of RPC on n1 of a started fleet (Describe, Prepare, Commit, Abort,
 * GetStatus, Watch, Restore, ClearRestore, EndRestore); returns what went wrong: every call must fail with the caller's
 * code, and n1 must know nothing of the backup afterwards.
 */
export async function tryHostileCaller(f: TestFleet, caller: HostileCaller): Promise<string[]> {
  const tls = await caller.tls(f);
  const n1 = f.agents.find((a) => a.node === 'n1')!;
  const [h] = openFleet([{ node: 'n1', address: `127.0.0.1:${n1.port}`, roles: ['rehearsal'] }], tls);
  const id = `hostile-${Math.random().toString(16).slice(2, 10)}`;
  const problems: string[] = [];
  try {
    const restore: RestoreRequest = {
      restoreId: `restore-${id}`,
      backupId: id,
      phase: toWirePhase('fetch'),
      destination: toWireDestination({ type: 'local', path: f.destDir }),
      options: toWireRestoreOptions(parseRestoreOptions({})),
      manifestSha256: '0'.repeat(64),
      setIdentities: [],
    };
    const calls: [string, () => Promise<unknown>][] = [
      ['Describe', () => h.describe(3000)],
      ['Prepare', () => h.prepare(fleetPlan(f, id), 3000)],
      ['Commit', () => h.commit(id, 3000)],
      ['Abort', () => h.abort(id, 'hostile', 3000)],
      ['GetStatus', () => h.status(id, 3000)],
      ['Watch', () => h.watch(id, 3000, () => undefined)],
      ['Restore', () => h.restore(restore, 3000)],
      ['ClearRestore', () => h.clearRestore(restore.restoreId, 3000)],
      ['EndRestore', () => h.endRestore(restore.restoreId, 3000)],
    ];
    for (const [what, call] of calls) {
      const p = await refusedWith(what, call, caller.code);
      if (p) problems.push(p);
    }
  } finally {
    h.close();
  }
  // The control: the same agent answers the coordinator's own credentials right after, so an
  // UNAVAILABLE above was the handshake refusing the caller, not an agent that was not there.
  const control = await asCoordinator(f, (c) => c.describe(3000)).then((d) => (d.node === 'n1' ? '' : `n1 answered as ${d.node}`), (err) => `the coordinator cannot reach n1 either (${errorMessage(err)}), so the refusals prove nothing`);
  if (control) problems.push(control);
  problems.push(...(await tracesOf(f, id)));
  if (existsSync(join(n1.markerDir, `restore-${id}`))) problems.push(`n1 ran a restore phase for restore-${id}`);
  return problems;
}

function callerCase(caller: HostileCaller): FaultCase {
  return {
    kind: 'hostile',
    name: caller.name,
    phase: 'rpc',
    expected: caller.expected,
    needs: 'rehearsal',
    quick: true,
    run: () =>
      withFleet(async (f) => {
        const problems = await tryHostileCaller(f, caller);
        return observe(problems.length ? problems.join('; ') : 'every RPC refused', problems);
      }),
  };
}

function rpcCase(name: string, expected: string, run: (f: TestFleet) => Promise<Observation>, rehearsal: Record<string, unknown> = {}): FaultCase {
  return { kind: 'hostile', name, phase: 'rpc', expected, needs: 'rehearsal', quick: true, run: () => withFleet(run, rehearsal) };
}

/** A complete backup set made by the real CLI; returns its id and manifest digest. */
async function completeSet(f: TestFleet, id: string): Promise<{ id: string; sha256: string }> {
  const r = await runCli(['backup', '--config', f.fleetFile, '--id', id]);
  if (r.code !== 0) throw new Error(`tandem backup --id ${id} exited ${r.code}: ${r.stderr}`);
  return { id, sha256: manifestDigest(await readFile(join(f.destDir, manifestPath(id)))) };
}

/** A restore request for n1. */
function restoreRequest(f: TestFleet, restoreId: string, set: { id: string; sha256: string }, phase: RestorePhase, options: RestoreOptionsInput = {}): RestoreRequest {
  return {
    restoreId,
    backupId: set.id,
    phase: toWirePhase(phase),
    destination: toWireDestination({ type: 'local', path: f.destDir }),
    options: toWireRestoreOptions(parseRestoreOptions(options)),
    manifestSha256: set.sha256,
    setIdentities: [],
  };
}

/** Waits until `check` holds, every 50 ms, for at most `ms`. */
async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return true;
  return false;
}

export const hostileCallerCases: FaultCase[] = [
  ...HOSTILE_CALLERS.map(callerCase),

  rpcCase('Commit without Prepare', 'NOT_FOUND, no state entry', async (f) => {
    const id = 'tandem-never-prepared';
    const problems = [await refusedWith('Commit', () => asCoordinator(f, (h) => h.commit(id, 3000)), /NOT_FOUND/, new RegExp(id)), ...(await tracesOf(f, id))].filter(Boolean);
    return observe(problems.length ? problems.join('; ') : 'refused: NOT_FOUND', problems);
  }),

  rpcCase('Commit after the lease expired', 'FAILED_PRECONDITION, the backup aborted on the agent, nothing at the destination', async (f) => {
    const id = 'tandem-lease-gone';
    const problems: string[] = [];
    await asCoordinator(f, async (h) => {
      const vote = await h.prepare(fleetPlan(f, id, 1000), 5000);
      if (!vote.voteYes) problems.push(`Prepare voted no: ${vote.reason}`);
      // Past the 1 s lease: the agent aborts it itself, the event waited for (up to 5 s).
      for (const end = Date.now() + 5000; Date.now() < end && (await h.status(id, 3000)).state === AgentState.PREPARED; ) await sleep(20);
      problems.push(await refusedWith('Commit', () => h.commit(id, 3000), /FAILED_PRECONDITION/, /lease expired/));
      const s = await h.status(id, 3000);
      if (s.state !== AgentState.ABORTED) problems.push(`state ${AgentState[s.state]}, not ABORTED`);
    });
    const a = f.agents[0];
    if (existsSync(join(a.markerDir, id, 'committed'))) problems.push('the role committed');
    if (existsSync(join(f.destDir, id))) problems.push(`${id}/ exists at the destination`);
    const p = problems.filter(Boolean);
    return observe(p.length ? p.join('; ') : 'refused: FAILED_PRECONDITION lease expired; aborted', p);
  }),

  rpcCase('Commit twice', 'the second Commit answers as the first; the cut is taken once', async (f) => {
    const id = 'tandem-commit-twice';
    const problems: string[] = [];
    await asCoordinator(f, async (h) => {
      const vote = await h.prepare(fleetPlan(f, id), 5000);
      if (!vote.voteYes) problems.push(`Prepare voted no: ${vote.reason}`);
      const first = await h.commit(id, 3000);
      const cut = await readFile(join(f.agents[0].markerDir, id, 'committed'), 'utf8');
      const second = await h.commit(id, 3000);
      if (second.committedUnixMs !== first.committedUnixMs) problems.push(`second Commit says committed at ${second.committedUnixMs}, the first ${first.committedUnixMs}`);
      if ((await readFile(join(f.agents[0].markerDir, id, 'committed'), 'utf8')) !== cut) problems.push('the role took a second cut');
    });
    return observe(problems.length ? problems.join('; ') : 'same answer, one cut', problems);
  }),

  rpcCase('Abort of an unknown id while another backup is prepared', 'answered (IDLE), nothing recorded, the other backup stays prepared', async (f) => {
    const other = 'tandem-bystander';
    const unknown = 'tandem-unknown-id';
    const problems: string[] = [];
    await asCoordinator(f, async (h) => {
      await h.prepare(fleetPlan(f, other), 5000);
      const r = await h.abort(unknown, 'hostile', 3000);
      if (r.state !== AgentState.IDLE) problems.push(`Abort answered ${AgentState[r.state]}`);
      const s = await h.status(other, 3000);
      if (s.state !== AgentState.PREPARED) problems.push(`${other} is ${AgentState[s.state]}, not PREPARED`);
      await h.abort(other, 'test over', 5000);
    });
    problems.push(...(await tracesOf(f, unknown)));
    return observe(problems.length ? problems.join('; ') : 'answered IDLE; bystander untouched', problems);
  }),

  rpcCase('an oversized message (Abort with a 2 MiB reason) for a prepared backup', 'RESOURCE_EXHAUSTED before any handler; the backup stays prepared', async (f) => {
    const id = 'tandem-oversized';
    const problems: string[] = [];
    await asCoordinator(f, (h) => h.prepare(fleetPlan(f, id), 5000));
    // A client without the send limit (the coordinator's own would refuse to send it).
    const n1 = f.agents[0];
    const tls = { ca: fleetCa(f), cert: join(f.pki, 'coordinator.crt'), key: join(f.pki, 'coordinator.key') };
    const { credentials, options } = clientCredentials(tls, `127.0.0.1:${n1.port}`, 'n1');
    const raw = new AgentClient(`127.0.0.1:${n1.port}`, credentials, { ...options, 'grpc.max_send_message_length': -1 });
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        raw.abort({ backupId: id, reason: 'x'.repeat(2 << 20) }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e) => resolve(e)),
      );
      if (!err) problems.push('the 2 MiB Abort was accepted');
      else if (err.code !== grpc.status.RESOURCE_EXHAUSTED) problems.push(`failed with ${grpc.status[err.code]}: ${err.details}`);
    } finally {
      raw.close();
    }
    await asCoordinator(f, async (h) => {
      const s = await h.status(id, 3000);
      if (s.state !== AgentState.PREPARED) problems.push(`${id} is ${AgentState[s.state]}, not PREPARED`);
      await h.abort(id, 'test over', 5000);
    });
    return observe(problems.length ? problems.join('; ') : 'refused: RESOURCE_EXHAUSTED', problems);
  }),

  rpcCase(
    'Prepare of a backup while a restore phase runs',
    'vote no naming the restore id; no state entry; the restore finishes (a check phase that ended holds nothing)',
    async (f) => {
      const set = await completeSet(f, 'tandem-restore-source');
      const problems: string[] = [];
      const id = 'tandem-during-restore';
      await asCoordinator(f, async (h) => {
        // A check phase (tandem verify runs one) only reads: once it ended, a backup may start at once.
        await h.restore(restoreRequest(f, 'verify-only', set, 'check'), 20_000);
        const after = await h.prepare(fleetPlan(f, 'tandem-after-check'), 5000);
        if (!after.voteYes) problems.push(`Prepare right after a check phase voted no: ${after.reason}`);
        await h.abort('tandem-after-check', 'test over', 5000);
        const restoring = h.restore(restoreRequest(f, 'restore-running', set, 'load'), 20_000);
        if (!(await until(() => existsSync(join(f.agents[0].markerDir, 'restore-running', 'load-started'))))) problems.push('the restore phase did not start');
        const vote = await h.prepare(fleetPlan(f, id), 5000);
        if (vote.voteYes) problems.push('Prepare voted yes');
        else if (!/restore restore-running/.test(vote.reason)) problems.push(`the vote's reason does not name the restore: ${vote.reason}`);
        await restoring.catch((err) => problems.push(`the restore failed: ${errorMessage(err)}`));
      });
      problems.push(...(await tracesOf(f, id)));
      return observe(problems.length ? problems.join('; ') : 'vote no: restore restore-running is running', problems);
    },
    { restoreMs: 2000 },
  ),

  rpcCase('Restore while a backup is prepared', 'FAILED_PRECONDITION naming the backup id; no restore phase ran', async (f) => {
    const set = await completeSet(f, 'tandem-restore-source');
    const id = 'tandem-holds-the-node';
    const problems: string[] = [];
    await asCoordinator(f, async (h) => {
      await h.prepare(fleetPlan(f, id), 5000);
      problems.push(await refusedWith('Restore', () => h.restore(restoreRequest(f, 'restore-refused', set, 'fetch'), 5000), /FAILED_PRECONDITION/, new RegExp(`backup ${id}`)));
      await h.abort(id, 'test over', 5000);
    });
    if (existsSync(join(f.agents[0].markerDir, 'restore-refused'))) problems.push('a restore phase ran');
    const p = problems.filter(Boolean);
    return observe(p.length ? p.join('; ') : `refused: FAILED_PRECONDITION backup ${id}`, p);
  }),

  rpcCase('a resumed restore that names another backup or other options', 'FAILED_PRECONDITION naming what it was started with; no phase ran', async (f) => {
    const a = await completeSet(f, 'tandem-set-a');
    const b = await completeSet(f, 'tandem-set-b');
    const problems: string[] = [];
    const marker = (phase: string) => existsSync(join(f.agents[0].markerDir, 'restore-resumed', `${phase}-started`));
    await asCoordinator(f, async (h) => {
      await h.restore(restoreRequest(f, 'restore-resumed', a, 'fetch'), 5000);
      problems.push(await refusedWith('Restore with another backup', () => h.restore(restoreRequest(f, 'restore-resumed', b, 'schema'), 5000), /FAILED_PRECONDITION/, /started with backup tandem-set-a, not tandem-set-b/));
      problems.push(await refusedWith('Restore with other options', () => h.restore(restoreRequest(f, 'restore-resumed', a, 'schema', { targetKeyspace: 'elsewhere' }), 5000), /FAILED_PRECONDITION/, /other targets or options/));
      if (marker('schema')) problems.push('the schema phase ran');
      // The same backup and options resume it.
      await h.restore(restoreRequest(f, 'restore-resumed', a, 'schema'), 5000).catch((err) => problems.push(`the true resume failed: ${errorMessage(err)}`));
    });
    const p = problems.filter(Boolean);
    return observe(p.length ? p.join('; ') : 'refused both; the true resume ran', p);
  }),
];
