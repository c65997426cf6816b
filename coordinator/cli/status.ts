/** `tandem status`: the running backup from another terminal, from the lock, the journal and the agents. */
import { parseArgs } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { errorMessage } from '../../shared/errors';
import { formatBytes } from '../../shared/format';
import { RpcError } from '../../shared/rpc/call';
import { Journal } from '../backup/journal';
import { LOCK_VERBS, readBackupLock } from '../backup/lock';
import { buildStatusView, type NodeView, type StatusView } from '../backup/status';
import { readRestoreRecord } from '../restore/record';
import { asksAgents, buildRestoreView, type RestoreNodeView, type RestoreView } from '../restore/status';
import { describeProgress, EXIT, FLEET_OPTIONS_HELP, fleetOptions, openFromConfig, say, UsageError } from './common';

export const STATUS_HELP = `Usage: tandem status [options]

Shows what the coordinator of this fleet file is doing, from another terminal; changes nothing
and takes no lock:
  running     the backup holding <stateDir>/backup.lock (id, pid, host, start), its journal step
              and timeline, and one line per node from the agent's status for that id: state,
              each role's phase, bytes done/total, rate since shipping began, time left
  unfinished  journal entries of runs that did not end ('tandem recover' handles them)
  last        the newest run that ended: id, outcome (complete, aborted, failed, abandoned), duration
  restore     the restore or drill recorded in <stateDir>/restore.json: running (its phase and
              timeline, one line per node from the agent's status for that restore id: phase,
              each role's step, bytes done/total, rate, time left), interrupted (its process is
              gone: the command that resumes it), or the last one that ended
An agent that does not answer within --timeout is shown as unreachable.

Options:
      --timeout MS    how long to wait for each agent's answer; default 3000
${FLEET_OPTIONS_HELP}

Exit: 0 (whatever the state of the backup or restore), 2 usage or configuration error.`;

/** Runs the verb; returns the exit code. */
export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...fleetOptions, timeout: { type: 'string', default: '3000' } }, strict: true });
  if (values.help) return void console.log(STATUS_HELP), EXIT.ok;
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new UsageError('--timeout must be a whole number of ms between 1 and 600000');
  }
  const { fleet, agents } = openFromConfig(values);
  try {
    const lock = readBackupLock(fleet.stateDir);
    const entries = new Journal(fleet.stateDir).entries((w) => say(`warning: ${w}`));
    const id = lock && !lock.stale ? lock.holder.backupId : null;
    // `tandem recover`, `prune` and `delete` hold the lock under their verb and have no journal entry of their own.
    const askAgents = id !== null && (!LOCK_VERBS.has(id) || entries.some((e) => e.backupId === id));
    const restoreRead = readRestoreRecord(fleet.stateDir, (w) => say(`warning: ${w}`));
    // Both asked at once: a status takes one --timeout at most, however many agents are slow.
    const [answers, restoreAnswers] = await Promise.all([
      askAgents ? Promise.all(agents.map((a) => answerOf(a.node, a.status(id, timeoutMs)))) : [],
      asksAgents(restoreRead) ? Promise.all(agents.map((a) => answerOf(a.node, a.restoreStatus(restoreRead!.record.restoreId, timeoutMs)))) : [],
    ]);
    const now = Date.now();
    const restore = buildRestoreView({ read: restoreRead, answers: restoreAnswers, now });
    const view = buildStatusView({ lock, entries, answers, now, restore });
    if (values.json) console.log(JSON.stringify(view));
    else console.log(statusText(view));
    return EXIT.ok;
  } finally {
    agents.forEach((a) => a.close());
  }
}

/** An agent's answer, or the error and whether the call reached the agent (an unreachable one is told apart from one that refused). */
function answerOf<T>(node: string, call: Promise<T>): Promise<{ node: string; status?: T; error?: string; reachable?: boolean }> {
  return call.then(
    (status) => ({ node, status }),
    (err) => ({ node, error: errorMessage(err), reachable: !(err instanceof RpcError && (err.code === grpcStatus.UNAVAILABLE || err.code === grpcStatus.DEADLINE_EXCEEDED)) }),
  );
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The view as lines for a person. */
export function statusText(v: StatusView): string {
  const out: string[] = [];
  const r = v.running;
  if (!r) out.push('no backup running');
  else if (r.backupId === 'recover' && !r.step) out.push(`tandem recover running (pid ${r.pid} on ${r.host}, started ${r.startedAt})`);
  else {
    out.push(`backup ${r.backupId} running: step ${r.step ?? 'starting (recovering earlier runs)'}, pid ${r.pid} on ${r.host}, started ${r.startedAt} (${secs(r.elapsedMs)} ago)`);
    const t0 = Math.min(...Object.values(r.steps));
    const timeline = Object.entries(r.steps).sort((a, b) => a[1] - b[1]).map(([step, at]) => `${step} +${secs(at - t0)}`);
    if (timeline.length) out.push(`  timeline: ${timeline.join(', ')}`);
    for (const n of v.nodes) out.push(`  ${nodeLine(n)}`);
  }
  if (v.staleLock) out.push(`stale lock: backup ${v.staleLock.backupId}, pid ${v.staleLock.pid} on ${v.staleLock.host} is gone (the next backup takes it over)`);
  for (const u of v.unfinished) out.push(`unfinished: backup ${u.backupId} stopped at step ${u.step} (pid ${u.pid} on ${u.host}); 'tandem recover' finishes or removes it ('tandem recover --abandon ${u.backupId}' when an agent of it is gone for good)`);
  const l = v.last;
  out.push(l ? `last: backup ${l.backupId} ${l.outcome} in ${secs(l.durationMs)}, ended ${new Date(l.endedMs).toISOString()}${l.reason ? `: ${l.reason}` : ''}` : 'last: no backup has ended yet');
  if (v.restore) out.push(...restoreLines(v.restore));
  return out.join('\n');
}

/** The restore's lines: what it is doing (or did), its timeline, one line per node. */
export function restoreLines(r: RestoreView): string[] {
  const what = `${r.kind} ${r.restoreId} of backup ${r.backupId}`;
  const started = new Date(r.startedMs).toISOString();
  const out: string[] = [];
  if (r.state === 'running') out.push(`${what} running: ${r.phase ? `phase ${r.phase}` : 'starting'}, pid ${r.pid} on ${r.host}, started ${started} (${secs(r.elapsedMs)} ago)`);
  else if (r.state === 'interrupted') out.push(`${what} interrupted${r.phase ? ` in phase ${r.phase}` : ' before its first phase'}: pid ${r.pid} on ${r.host} is gone; resume it with: ${r.resume}`);
  else if (r.state === 'restored') out.push(`last restore: ${what} restored and verified in ${secs(r.elapsedMs)}, ended ${new Date(r.ended!.atMs).toISOString()}`);
  else out.push(`last restore: ${what} failed after ${secs(r.elapsedMs)}, ended ${new Date(r.ended!.atMs).toISOString()}${r.ended!.reason ? `: ${r.ended!.reason}` : ''}; resume it with: ${r.resume}`);
  if (r.state === 'running' || r.state === 'interrupted') {
    const timeline = Object.entries(r.phases).sort((a, b) => a[1] - b[1]).map(([phase, at]) => `${phase} +${secs(at - r.startedMs)}`);
    if (timeline.length) out.push(`  timeline: ${timeline.join(', ')}`);
    for (const n of r.nodes) out.push(`  ${restoreNodeLine(n)}`);
  }
  return out;
}

function restoreNodeLine(n: RestoreNodeView): string {
  if (!n.phase) return `${n.node}: ${n.reachable ? 'no status' : 'unreachable'}${n.error ? ` (${n.error})` : ''}`;
  const roles = n.roles.map((p) => describeProgress(p)).join(', ');
  const rate = n.rateBytesPerSec !== null ? `, ${formatBytes(n.rateBytesPerSec)}/s` : '';
  const eta = n.etaSeconds !== null ? `, ${Math.ceil(n.etaSeconds)} s left` : '';
  const state = n.running ? n.phase : `${n.phase} ${n.ok ? 'done' : 'failed'}`;
  return `${n.node}: ${state}${roles ? ` (${roles}${rate}${eta})` : ''}${n.error ? `: ${n.error}` : ''}`;
}

function nodeLine(n: NodeView): string {
  if (!n.state) return `${n.node}: ${n.reachable ? 'no status' : 'unreachable'}${n.error ? ` (${n.error})` : ''}`;
  const roles = n.roles.map((p) => describeProgress(p)).join(', ');
  const rate = n.rateBytesPerSec !== null ? `, ${formatBytes(n.rateBytesPerSec)}/s` : '';
  const eta = n.etaSeconds !== null && n.state === 'shipping' ? `, ${Math.ceil(n.etaSeconds)} s left` : '';
  return `${n.node}: ${n.state}${roles ? ` (${roles}${rate}${eta})` : ''}${n.error ? `: ${n.error}` : ''}`;
}
