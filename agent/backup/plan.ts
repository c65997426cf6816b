/** Validates a backup plan arriving over the network before anything acts on it. */
import { z } from 'zod';
import { destinationConfigSchema } from '../../shared/destination';
import { ValidationError } from '../../shared/errors';
import { BACKUP_ID, SNAPSHOT_TAG } from '../../shared/names';
import type { PlanRecord } from './state';

/** The plan as it arrives in a Prepare request. */
export interface PlanInput {
  backupId: string;
  tag: string;
  leaseMs: number;
  destinationJson: string;
  options: Record<string, string>;
}

const planSchema = z.strictObject({
  backupId: z.string().regex(BACKUP_ID),
  tag: z.string().regex(SNAPSHOT_TAG),
  /** A lease between 1 s and 1 h. */
  leaseMs: z.number().int().min(1000).max(3_600_000),
  destination: destinationConfigSchema,
  options: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), z.string().max(256)),
});

/** Returns the validated plan, or throws ValidationError naming the bad field. */
export function parsePlan(input: PlanInput | undefined): PlanRecord {
  if (!input) throw new ValidationError('the request carries no backup plan');
  let destination: unknown;
  try {
    destination = JSON.parse(input.destinationJson);
  } catch {
    throw new ValidationError('the plan\'s destination is not valid JSON');
  }
  const r = planSchema.safeParse({
    backupId: input.backupId,
    tag: input.tag,
    leaseMs: input.leaseMs,
    destination,
    options: input.options ?? {},
  });
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ValidationError(`invalid backup plan: ${i.path.join('.')}: ${i.message}`);
  }
  return r.data as PlanRecord;
}
