/**
 * Runs restore phases on this agent. The coordinator holds the barriers between phases; a restore
 * that crashed is resumed by running its phases again with the same restore id: phases that
 * change the target and finished are recorded and not run twice, the others are idempotent.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { RESTORE_PHASES } from '../../shared/contract';
import { destinationConfigSchema, openDestination } from '../../shared/destination';
import { ConflictError, ValidationError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import { manifestSchema } from '../../shared/manifest';
import { BACKUP_ID } from '../../shared/names';
import type { BackupController } from '../backup/controller';
import { isActive } from '../backup/state';
import { isRestorable, type ProgressUpdate, type RestorePhase, type Role } from '../roles/role';

const requestSchema = z.strictObject({
  restoreId: z.string().regex(BACKUP_ID),
  backupId: z.string().regex(BACKUP_ID),
  phase: z.enum(RESTORE_PHASES),
  manifest: manifestSchema,
  destination: destinationConfigSchema,
  options: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), z.string().max(4096)),
});

/** A restore request as it arrives. */
export interface RestoreInput {
  restoreId: string;
  backupId: string;
  phase: string;
  manifestJson: string;
  destinationJson: string;
  options: Record<string, string>;
}

/** Phases run at most once per restore id and role; check, verify and cleanup may run again. */
const ONCE = new Set(['fetch', 'schema', 'load']);

/** Runs one restore phase at a time on this node's restorable roles. */
export class RestoreController {
  private busy: string | null = null;

  constructor(
    private readonly node: string,
    private readonly roles: readonly Role[],
    private readonly stateDir: string,
    private readonly backups: BackupController,
    private readonly log: Logger,
  ) {}

  /** Runs the phase on every role that has a part to restore; results by role. */
  async run(input: RestoreInput, signal: AbortSignal, onProgress: (role: string, update: ProgressUpdate) => void = () => undefined): Promise<Record<string, unknown>> {
    const req = parse(input);
    const cur = this.backups.current;
    if (cur && isActive(cur.state)) throw new ConflictError(`a backup (${cur.plan.backupId}) is running on this node; restore after it`);
    if (this.busy) throw new ConflictError(`restore phase ${this.busy} is already running on this node`);
    this.busy = `${req.restoreId}/${req.phase}`;
    const log = this.log.child({ restoreId: req.restoreId, phase: req.phase });
    const results: Record<string, unknown> = {};
    try {
      for (const role of this.roles.filter(isRestorable)) {
        if (req.options[`skip_${role.name}`] === 'true') continue;
        // A phase that changes the target is done once per restore id: resuming after a crash must
        // not, say, truncate tables that the load phase already filled.
        const marker = ONCE.has(req.phase) ? join(this.workRoot(req.restoreId), `${role.name}.${req.phase}.done.json`) : null;
        const recorded = marker ? await readFile(marker, 'utf8').catch(() => null) : null;
        if (recorded !== null) {
          log.info({ role: role.name }, 'restore phase already done for this restore id');
          results[role.name] = JSON.parse(recorded);
          continue;
        }
        log.info({ role: role.name }, 'restore phase');
        results[role.name] = await role.restore(req.phase as RestorePhase, {
          restoreId: req.restoreId,
          backupId: req.backupId,
          node: this.node,
          manifest: req.manifest,
          destination: openDestination(req.destination),
          options: req.options,
          workDir: join(this.workRoot(req.restoreId), role.name),
          signal,
          progress: (update) => onProgress(role.name, update),
          log: log.child({ role: role.name }),
        });
        if (marker) await markDone(marker, results[role.name]);
      }
      if (req.phase === 'cleanup') await rm(this.workRoot(req.restoreId), { recursive: true, force: true });
      return results;
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'restore phase failed');
      throw err;
    } finally {
      this.busy = null;
    }
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

function parse(input: RestoreInput): z.output<typeof requestSchema> {
  let manifest: unknown;
  let destination: unknown;
  try {
    manifest = JSON.parse(input.manifestJson);
    destination = JSON.parse(input.destinationJson);
  } catch {
    throw new ValidationError('restore request: manifest or destination is not valid JSON');
  }
  const { restoreId, backupId, phase, options } = input;
  const r = requestSchema.safeParse({ restoreId, backupId, phase, options: options ?? {}, manifest, destination });
  if (!r.success) throw new ValidationError(`invalid restore request: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`);
  return r.data;
}
