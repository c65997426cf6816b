/**
 * Runs restore phases on this agent. The coordinator holds the barriers between phases; a restore
 * that crashed is resumed by running its phases again with the same restore id: phases that
 * change the target and finished are recorded and not run twice, the others are idempotent.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openDestination, readAll } from '../../shared/destination';
import { ConflictError, ValidationError, errorMessage } from '../../shared/errors';
import type { PhaseReport, RestoreRequest } from '../../shared/generated/tandem/v2/agent';
import type { Logger } from '../../shared/log';
import { manifestDigest, manifestPath, parseManifest, type Manifest } from '../../shared/manifest';
import { BACKUP_ID } from '../../shared/names';
import { fromWireDestination } from '../../shared/wire/destination';
import { fromWirePhase, fromWireRestoreOptions } from '../../shared/wire/restore';
import type { BackupController } from '../backup/controller';
import { isActive } from '../backup/state';
import { NO_METRICS, type AgentMetrics } from '../metrics';
import { isRestorable, type PhaseOutcome, type ProgressUpdate, type Role } from '../roles/role';

/** Phases run at most once per restore id and role; check, verify and cleanup may run again. */
const ONCE = new Set(['fetch', 'schema', 'load']);

/** Runs one restore phase at a time on this node's restorable roles. */
export class RestoreController {
  private busy: string | null = null;
  /** Restore ids in which a phase failed or reported problems on this agent (counted as failures). */
  private readonly failed = new Set<string>();

  constructor(
    private readonly node: string,
    private readonly roles: readonly Role[],
    private readonly stateDir: string,
    private readonly backups: BackupController,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics = NO_METRICS,
  ) {}

  /** Runs the phase on every role that has a part to restore; results by role. */
  async run(input: RestoreRequest, signal: AbortSignal, onProgress: (role: string, update: ProgressUpdate) => void = () => undefined): Promise<PhaseReport[]> {
    const req = parse(input);
    const cur = this.backups.current;
    if (cur && isActive(cur.state)) throw new ConflictError(`a backup (${cur.plan.backupId}) is running on this node; restore after it`);
    if (this.busy) throw new ConflictError(`restore phase ${this.busy} is already running on this node`);
    this.busy = `${req.restoreId}/${req.phase}`;
    const log = this.log.child({ restoreId: req.restoreId, phase: req.phase });
    const reports: PhaseReport[] = [];
    const started = Date.now();
    try {
      const destination = openDestination(req.destination);
      const manifest = await readCheckedManifest(destination, req.backupId, input.manifestSha256);
      for (const role of this.roles.filter(isRestorable)) {
        if (req.options.skipRoles.includes(role.name)) continue;
        // A phase that changes the target is done once per restore id: resuming after a crash must
        // not, say, truncate tables that the load phase already filled.
        const marker = ONCE.has(req.phase) ? join(this.workRoot(req.restoreId), `${role.name}.${req.phase}.done.json`) : null;
        const recorded = marker ? await readFile(marker, 'utf8').catch(() => null) : null;
        if (recorded !== null) {
          log.info({ role: role.name }, 'restore phase already done for this restore id');
          reports.push(report(role.name, JSON.parse(recorded) as PhaseOutcome | null));
          continue;
        }
        log.info({ role: role.name }, 'restore phase');
        const outcome = await role.restore(req.phase, {
          restoreId: req.restoreId,
          backupId: req.backupId,
          node: this.node,
          manifest,
          destination,
          options: req.options,
          workDir: join(this.workRoot(req.restoreId), role.name),
          signal,
          progress: (update) => onProgress(role.name, update),
          log: log.child({ role: role.name }),
        });
        if (marker) await markDone(marker, outcome);
        reports.push(report(role.name, outcome));
      }
      if (req.phase === 'cleanup') await rm(this.workRoot(req.restoreId), { recursive: true, force: true });
      this.metrics.phase('restore', req.phase, (Date.now() - started) / 1000);
      if (reports.some((r) => !r.ok)) this.failure(req.restoreId);
      // Cleanup is the last phase of a restore that went through: it succeeded unless a phase failed.
      else if (req.phase === 'cleanup' && !this.failed.has(req.restoreId)) this.metrics.restoreEnded('success', Date.now());
      return reports;
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'restore phase failed');
      this.failure(req.restoreId);
      throw err;
    } finally {
      this.busy = null;
    }
  }

  /** A failed phase ends the restore (the coordinator stops there); counted once per restore id. */
  private failure(restoreId: string): void {
    if (this.failed.has(restoreId)) return;
    this.failed.add(restoreId);
    this.metrics.restoreEnded('failure', Date.now());
  }

  private workRoot(restoreId: string): string {
    return join(this.stateDir, 'restore', restoreId);
  }
}

/** Records a finished phase (temp file + rename: a marker is never half written). */
async function markDone(marker: string, result: unknown): Promise<void> {
  await mkdir(dirname(marker), { recursive: true });
  await writeFile(`${marker}.tmp`, JSON.stringify(result ?? null));
  await rename(`${marker}.tmp`, marker);
}

/** At most this many problems travel per role; the count says how many there were. */
const MAX_PROBLEMS = 50;

/** The protocol's report of a role's phase outcome (null: the role had nothing to do). */
function report(role: string, o: PhaseOutcome | null): PhaseReport {
  const problems = o?.problems ?? [];
  return {
    role,
    ran: o !== null,
    ok: o?.ok ?? true,
    problems: problems.slice(0, MAX_PROBLEMS),
    problemCount: o?.problemCount ?? problems.length,
    detail: o?.detail ?? '',
    tables: o?.tables ?? [],
    indices: o?.indices ?? [],
    files: o?.files,
  };
}

/**
 * The manifest, read here rather than sent: it can be large, and the digest the coordinator sends
 * proves both sides restore the same set.
 */
async function readCheckedManifest(destination: ReturnType<typeof openDestination>, backupId: string, sha256: string): Promise<Manifest> {
  const body = await readAll(destination, manifestPath(backupId));
  const got = manifestDigest(body);
  if (got !== sha256) {
    throw new ValidationError(`${manifestPath(backupId)} has sha256 ${got}, the coordinator read ${sha256 || 'none'}: the set changed during the restore, or the agent reads another destination`);
  }
  return parseManifest(body, backupId);
}

/** The request, validated; throws ValidationError naming the field. */
function parse(input: RestoreRequest) {
  for (const [field, v] of [['restoreId', input.restoreId], ['backupId', input.backupId]] as const) {
    if (!BACKUP_ID.test(v)) throw new ValidationError(`${field}: ${JSON.stringify(v)} must match ${BACKUP_ID.source}`);
  }
  if (!/^[0-9a-f]{64}$/.test(input.manifestSha256)) throw new ValidationError('manifestSha256: must be the sha256 of the manifest');
  return {
    restoreId: input.restoreId,
    backupId: input.backupId,
    phase: fromWirePhase(input.phase),
    destination: fromWireDestination(input.destination),
    options: fromWireRestoreOptions(input.options),
  };
}
