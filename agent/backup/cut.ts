/**
 * The cut of a Commit on this agent: every role takes its cut at once (the snapshot, the point in
 * time the set describes), each timed on the backup's timeline, and each role's record of it is
 * checked against the role's schema before it is kept.
 */
import type { Role, RoleContext } from '../roles/role';
import { checked } from './role-records';
import type { Timelines } from './timeline';

/** What the cut works with: the backup, its roles and where its spans go. */
export interface CutInput {
  backupId: string;
  roles: readonly Role[];
  timelines: Timelines;
  contextOf(role: Role): RoleContext;
}

/**
 * Takes every role's cut at once. `commits` is filled by role name as each cut ends, so that a
 * cut that fails still leaves the others' records for the failed backup's record; throws the
 * first failure.
 */
export async function cutRoles({ backupId, roles, timelines, contextOf }: CutInput, commits: Record<string, unknown>): Promise<void> {
  await Promise.all(roles.map(async (r) => {
    const cut = await timelines.timed(backupId, { phase: 'cut', role: r.name }, () => r.commit(contextOf(r)));
    commits[r.name] = checked(r.name, 'commit', cut);
  }));
}
