/** Validates a backup plan arriving over the network before anything acts on it. */
import { ValidationError } from '../../shared/errors';
import type { BackupPlan } from '../../shared/generated/tandem/v2/agent';
import { BACKUP_ID, SNAPSHOT_TAG } from '../../shared/names';
import { fromWireBackupOptions } from '../../shared/wire/backup-options';
import { fromWireDestination } from '../../shared/wire/destination';
import { parseParent } from './parent';
import type { PlanRecord } from './state';

/** Returns the validated plan, or throws ValidationError naming the bad field. */
export function parsePlan(input: BackupPlan | undefined): PlanRecord {
  if (!input) throw new ValidationError('the request carries no backup plan');
  if (!BACKUP_ID.test(input.backupId)) throw new ValidationError(`plan.backupId: ${JSON.stringify(input.backupId)} must match ${BACKUP_ID.source}`);
  if (!SNAPSHOT_TAG.test(input.tag)) throw new ValidationError(`plan.tag: ${JSON.stringify(input.tag)} must match ${SNAPSHOT_TAG.source}`);
  // A lease between 1 s and 1 h.
  if (!Number.isInteger(input.leaseMs) || input.leaseMs < 1000 || input.leaseMs > 3_600_000) {
    throw new ValidationError(`plan.leaseMs: ${input.leaseMs} must be between 1000 and 3600000`);
  }
  return {
    backupId: input.backupId,
    tag: input.tag,
    leaseMs: input.leaseMs,
    destination: fromWireDestination(input.destination, 'plan.destination'),
    options: fromWireBackupOptions(input.options),
    parent: parseParent(input.parent, input.backupId),
  };
}
