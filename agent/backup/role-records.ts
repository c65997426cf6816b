/**
 * A role's records (its cut's commit record, its part of the manifest) checked against the role's
 * schema in shared/parts before the agent keeps or ships them: a role that breaks its own contract
 * fails the backup here, by name, rather than writing a part.json no reader accepts.
 */
import { TandemError, firstIssue } from '../../shared/errors';
import { ROLE_SCHEMAS } from '../../shared/parts';
import type { Role } from '../roles/role';

/** A role's record checked against its schema: a role that breaks its own contract fails the backup, by name. */
export function checked(role: Role['name'], what: 'commit' | 'part', value: unknown): unknown {
  const r = ROLE_SCHEMAS[role][what].safeParse(value);
  if (!r.success) throw new TandemError(`${role} ${what} record does not match its schema (a bug): ${firstIssue(r.error)}`);
  return r.data;
}
