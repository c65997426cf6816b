/**
 * The read-only checks behind a vote (Preflight, and the first step of Prepare): every role's
 * checks and whether the destination takes writes. A check that throws is a failed check with its
 * message, never an error of the call: the vote says no, with the reason an operator can act on.
 */
import type { Destination } from '../../shared/destination';
import { errorMessage, oneLine } from '../../shared/errors';
import type { CheckResult, Role, RoleContext } from '../roles/role';
import type { PlanRecord } from './state';

/** The answer to Prepare. */
export interface Vote {
  yes: boolean;
  checks: (CheckResult & { role: string })[];
  reason: string;
  leaseExpiresAt: number;
}

/** The failed checks as one reason, '' when every check passed. */
export function failureReason(checks: Vote['checks']): string {
  return checks.filter((c) => !c.ok).map((c) => `${c.role}: ${c.message}`).join('; ');
}

/** A "no" vote with its reason, and no checks or lease. */
export function noVote(reason: string): Vote {
  return { yes: false, checks: [], reason, leaseExpiresAt: 0 };
}

/** Every role's checks, in the roles' order, then the destination's; `contextOf` gives each role its context. */
export async function runChecks(roles: readonly Role[], plan: PlanRecord, contextOf: (role: Role) => RoleContext, destination: Destination): Promise<Vote['checks']> {
  const all: Vote['checks'] = [];
  for (const role of roles) {
    try {
      for (const c of await role.preflight(contextOf(role))) all.push({ ...c, message: oneLine(c.message), role: role.name });
    } catch (err) {
      all.push({ role: role.name, name: 'preflight', ok: false, message: oneLine(errorMessage(err)) });
    }
  }
  try {
    await destination.checkWritable();
  } catch (err) {
    all.push({ role: 'agent', name: 'destination', ok: false, message: oneLine(errorMessage(err)) });
  }
  return all;
}
