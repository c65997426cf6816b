/** A backup plan as the coordinator sends it in Prepare, for tests that drive agents directly. */
import type { BackupPlan } from '../../shared/generated/tandem/v2/agent';
import { backupOptionsSchema, toWireBackupOptions } from '../../shared/wire/backup-options';
import { toWireDestination } from '../../shared/wire/destination';

/** A full set `id` (its tag the same) to the local folder `dir`, default options, prepared for `leaseMs`. */
export function localPlan(id: string, dir: string, leaseMs: number): BackupPlan {
  return {
    backupId: id,
    tag: id,
    leaseMs,
    destination: toWireDestination({ type: 'local', path: dir }),
    options: toWireBackupOptions(backupOptionsSchema.parse({})),
    parent: undefined,
  };
}
