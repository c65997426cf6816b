/** The --keep-* options of `tandem prune`, checked against each other and the fleet file's `retention:` block. */
import type { FleetConfig } from '../config';
import { hasRule, RULES, type RetentionPolicy } from '../retention/policy';
import { UsageError } from './common';

/** The options, each repeatable only to be refused when the values differ. */
export const keepOptions = {
  'keep-last': { type: 'string', multiple: true },
  'keep-daily': { type: 'string', multiple: true },
  'keep-weekly': { type: 'string', multiple: true },
  'keep-monthly': { type: 'string', multiple: true },
} as const;

/** Their help lines. */
export const KEEP_OPTIONS_HELP = `      --keep-last N       keep the N newest sets
      --keep-daily N      keep the newest set of each of the last N days that have one
      --keep-weekly N     the same per ISO week (Monday to Sunday)
      --keep-monthly N    the same per month`;

/**
 * The policy a prune applies: the flags when any is given (they replace the fleet file's block
 * whole, so what the command line says is exactly what is kept), else the block. UsageError
 * (exit 2, nothing deleted) for a value that is not a whole number from 0, a flag given twice
 * with different values, counts that are all 0, or neither flags nor block.
 */
export function retentionPolicy(values: Partial<Record<keyof typeof keepOptions, string[] | undefined>>, fleet: Pick<FleetConfig, 'retention'>, fleetFile: string): RetentionPolicy {
  const policy: RetentionPolicy = {};
  for (const rule of RULES) {
    const given = values[`keep-${rule}`] ?? [];
    if (!given.length) continue;
    const distinct = [...new Set(given)];
    if (distinct.length > 1) throw new UsageError(`--keep-${rule} is given ${given.length} times with different values (${distinct.join(', ')}): give it once`);
    const v = distinct[0];
    if (!/^\d{1,6}$/.test(v)) throw new UsageError(`--keep-${rule} ${JSON.stringify(v)}: must be a whole number of sets from 0 to 999999`);
    policy[`keep_${rule}`] = Number(v);
  }
  const chosen = hasRule(policy) ? policy : fleet.retention;
  if (!chosen) {
    throw new UsageError(`nothing says what to keep: give --keep-last, --keep-daily, --keep-weekly or --keep-monthly, or a retention block in ${fleetFile} (e.g. retention: {keep_daily: 7, keep_weekly: 4, keep_monthly: 12})`);
  }
  if (RULES.every((r) => !chosen[`keep_${r}`])) {
    throw new UsageError(`every keep count is 0: that would delete every set but the newest; give at least one count above 0`);
  }
  return chosen;
}
