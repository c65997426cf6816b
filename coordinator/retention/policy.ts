/**
 * Which complete backup sets a prune keeps, with restic's semantics: the sets are taken newest
 * first (by completedAt); keep-last N keeps the N newest; keep-daily N keeps the newest set of
 * each of the last N days that have a set, keep-weekly N of the last N ISO weeks, keep-monthly N
 * of the last N months, all in UTC. A set kept by any rule is kept. The newest set is always
 * kept, whatever the rules say: a prune never leaves the destination without a backup.
 */
import { z } from 'zod';

/** How many sets each rule keeps; an absent rule keeps none. */
export const retentionPolicySchema = z.strictObject({
  keep_last: z.int().min(0).max(100_000).optional(),
  keep_daily: z.int().min(0).max(100_000).optional(),
  keep_weekly: z.int().min(0).max(100_000).optional(),
  keep_monthly: z.int().min(0).max(100_000).optional(),
});

/** A retention policy, as the fleet file's `retention:` block and the prune flags give it. */
export type RetentionPolicy = z.output<typeof retentionPolicySchema>;

/** The rules, in the order their reasons are shown. */
export const RULES = ['last', 'daily', 'weekly', 'monthly'] as const;
export type Rule = (typeof RULES)[number];

/** A complete set as the policy sees it. */
export interface DatedSet {
  id: string;
  /** ISO 8601 instant the set was completed (its manifest's completedAt). */
  completedAt: string;
}

/** The policy's verdict on one set. */
export interface Decision {
  id: string;
  completedAt: string;
  keep: boolean;
  /** Why it is kept: the rules that chose it, `newest` for the newest set, `parent-of-unfinished` for the set a backup in this coordinator's journal builds on. */
  reasons: (Rule | 'newest' | 'parent-of-unfinished')[];
}

/** True when the policy names at least one rule. */
export const hasRule = (p: RetentionPolicy) => RULES.some((r) => p[`keep_${r}`] !== undefined);

/** The UTC bucket of an instant for each rule: the day, the ISO week, the month. */
export function bucketOf(rule: Exclude<Rule, 'last'>, ms: number): string {
  const d = new Date(ms);
  if (rule === 'daily') return d.toISOString().slice(0, 10);
  if (rule === 'monthly') return d.toISOString().slice(0, 7);
  // ISO 8601 week: the week holding the year's first Thursday is week 1; weeks start on Monday.
  // The week's Thursday decides its year and number.
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  t.setUTCDate(t.getUTCDate() - ((t.getUTCDay() + 6) % 7) + 3);
  const week = Math.ceil(((t.getTime() - Date.UTC(t.getUTCFullYear(), 0, 1)) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Applies the policy to the complete sets; the decisions come newest first. */
export function applyPolicy(sets: readonly DatedSet[], policy: RetentionPolicy): Decision[] {
  const sorted = [...sets].sort((a, b) => Date.parse(b.completedAt) - Date.parse(a.completedAt) || b.id.localeCompare(a.id));
  const left: Record<Rule, number> = { last: policy.keep_last ?? 0, daily: policy.keep_daily ?? 0, weekly: policy.keep_weekly ?? 0, monthly: policy.keep_monthly ?? 0 };
  const lastBucket: Partial<Record<Rule, string>> = {};
  return sorted.map((s, i) => {
    const reasons: Decision['reasons'] = i === 0 ? ['newest'] : [];
    const ms = Date.parse(s.completedAt);
    for (const rule of RULES) {
      if (left[rule] <= 0) continue;
      // keep-last has a bucket per set; the others one per day, week or month.
      const bucket = rule === 'last' ? s.id : bucketOf(rule, ms);
      if (bucket === lastBucket[rule]) continue;
      lastBucket[rule] = bucket;
      left[rule]--;
      reasons.push(rule);
    }
    return { id: s.id, completedAt: s.completedAt, keep: reasons.length > 0, reasons };
  });
}
