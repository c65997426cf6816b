/** What every verb of the `tandem` CLI shares: options, fleet loading, output, exit codes. */
import { printable } from '../../shared/printable';
import { TandemError, errorMessage } from '../../shared/errors';
import { checkBackupId } from '../../shared/names';
import { formatBytes } from '../../shared/format';
import { PROGRESS_INTERVAL_MS, throttleEach } from '../../shared/progress';
import { literalSecretWarning, loadFleetConfig, type FleetConfig } from '../config';
import { openFleet, type AgentHandle } from '../fleet';
import type { RoleProgress } from '../../shared/generated/tandem/v2/agent';

/** Exit codes of `tandem`. */
export const EXIT = {
  /** Success: the backup is complete, the check passed. */
  ok: 0,
  /** The operation ran and did not succeed: backup aborted or failed, problems found. */
  failed: 1,
  /** Bad usage or configuration: nothing was done. */
  usage: 2,
  /** An unexpected internal error (a bug): please report it. */
  bug: 3,
  /** Interrupted by SIGINT; everything started was aborted. */
  interrupted: 130,
} as const;

/** A usage error: wrong verb, option or argument. */
export class UsageError extends TandemError {}

/**
 * An option's or argument's value checked by `check` (a strict pattern of shared/names.ts or a
 * schema) before anything else happens: an empty or refused value is a UsageError (exit 2)
 * naming the option. Absent (undefined) stays absent.
 */
export function checkArg<T>(what: string, value: string | undefined, check: (v: string) => T): T | undefined {
  if (value === undefined) return undefined;
  if (value === '') throw new UsageError(`${what}: empty value`);
  try {
    return check(value);
  } catch (err) {
    throw new UsageError(`${what}: ${errorMessage(err)}`);
  }
}

/** A check by a schema, for checkArg(): the value, or an error with the schema's first message. */
export function matches<T>(schema: { safeParse(v: unknown): { success: boolean; data?: T; error?: { issues: { message: string }[] } } }): (v: string) => T {
  return (v) => {
    const r = schema.safeParse(v);
    if (!r.success) throw new UsageError(`${JSON.stringify(v)} ${r.error?.issues[0]?.message ?? 'is not valid'}`);
    return r.data as T;
  };
}

/** The one backup id a verb takes as its argument, checked; `latest` too where the verb allows it. */
export function backupIdArgument(verb: string, positionals: string[], allowLatest = false): string {
  if (positionals.length !== 1) throw new UsageError(`${verb}: expected one backup id`);
  const [id] = positionals;
  if (allowLatest && id === 'latest') return id;
  return checkArg(`${verb}: backup id`, id, checkBackupId)!;
}

/** The options every verb that talks to the fleet accepts. */
export const fleetOptions = {
  config: { type: 'string', short: 'c', default: '/etc/tandem/fleet.yaml' },
  insecure: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Help text lines for the fleet options. */
export const FLEET_OPTIONS_HELP = `  -c, --config FILE   fleet file (YAML); default /etc/tandem/fleet.yaml
      --insecure      talk to agents without TLS (loopback agents only)
      --json          print one JSON object on stdout instead of text
  -h, --help          this help`;

/** Loads the fleet file and opens a handle to every agent. */
export function openFromConfig(values: { config?: string; insecure?: boolean }): { fleet: FleetConfig; agents: AgentHandle[] } {
  const fleet = loadFleetConfig(values.config!);
  if (!fleet.tls && !values.insecure) {
    throw new UsageError(`${values.config}: tls is required (ca, cert, key); use --insecure only for loopback test agents`);
  }
  const secret = literalSecretWarning(values.config!, fleet);
  if (secret) say(`warning: ${secret}`);
  return { fleet, agents: openFleet(fleet.agents, values.insecure ? undefined : fleet.tls) };
}

/** Writes a line of progress for a person: to stderr, so stdout stays clean for --json. */
export function say(line: string): void {
  // What it says often names what the destination or an agent answered.
  process.stderr.write(printable(line) + '\n');
}

/** One role's progress in a line: `cassandra fetch 12/27 files 120.3 MiB/258.0 MiB 8.1 MiB/s`. */
export function describeProgress(r: RoleProgress, seconds?: number): string {
  const bytes = r.bytesDone || r.bytesTotal ? ` ${formatBytes(r.bytesDone)}${r.bytesTotal ? `/${formatBytes(r.bytesTotal)}` : ''}` : '';
  return `${r.role} ${r.phase} ${r.filesDone}/${r.filesTotal} files${bytes}` + (r.bytesDone && seconds ? ` ${formatBytes(r.bytesDone / seconds)}/s` : '');
}

/** Between two progress lines of one node and role when nothing else changed: 10 s (lines a person reads). */
export const PRINT_INTERVAL_MS = 10 * PROGRESS_INTERVAL_MS;

/** Calls `out` (say() by default) with a node's progress per role: at a new phase, at the end of a step, else at most every `intervalMs`. */
export function throttledProgress(intervalMs = PRINT_INTERVAL_MS, out: (line: string) => void = say): (node: string, p: RoleProgress) => void {
  // The rate shown is over the phase so far, from the first report of it.
  const started = new Map<string, number>();
  const phaseKey = (u: RoleProgress & { node: string }) => `${u.node}/${u.role}/${u.phase}`;
  const print = throttleEach(
    (u: RoleProgress & { node: string }) => `${u.node}/${u.role}`,
    (u) => out(`  ${u.node}: ${describeProgress(u, (Date.now() - started.get(phaseKey(u))!) / 1000)}`),
    { intervalMs },
  );
  return (node, p) => {
    const u = { ...p, node };
    if (!started.has(phaseKey(u))) started.set(phaseKey(u), Date.now());
    print(u);
  };
}
