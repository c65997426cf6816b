/**
 * The cut of a Commit on this agent: every role takes its cut (the snapshot, the point in time the
 * set describes), each timed on the backup's timeline, and each role's record of it is checked
 * against the role's schema before it is kept.
 *
 * A role that leads the cut (Cassandra) goes first and the others follow the instant its trigger
 * has left: on a node that also holds Elasticsearch and the files, starting all three at once let
 * the Elasticsearch snapshot and the files cut take the cores the snapshot request needed, and that
 * node's Cassandra snapshot came tens of milliseconds after the other nodes'.
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
 * Takes every role's cut, the leading roles' first. `commits` is filled by role name as each cut
 * ends, so that a cut that fails still leaves the others' records for the failed backup's record;
 * throws the first failure. When a leading role fails before its trigger left, the others do not
 * cut at all: the backup fails, and there is nothing of theirs to undo.
 */
export async function cutRoles({ backupId, roles, timelines, contextOf }: CutInput, commits: Record<string, unknown>): Promise<void> {
  const cut = async (r: Role, ctx: RoleContext) => {
    const record = await timelines.timed(backupId, { phase: 'cut', role: r.name }, () => r.commit(ctx));
    commits[r.name] = checked(r.name, 'commit', record);
  };
  const leads = roles.filter((r) => r.leadsCut).map((r) => {
    let gate!: (ok: boolean) => void;
    const started = new Promise<boolean>((resolve) => (gate = resolve));
    const done = cut(r, { ...contextOf(r), cutStarted: () => gate(true) }).then(() => gate(true), (err: unknown) => {
      gate(false);
      throw err;
    });
    return { started, done };
  });
  const mayFollow = Promise.all(leads.map((l) => l.started)).then((oks) => oks.every(Boolean));
  await Promise.all([
    ...leads.map((l) => l.done),
    ...roles.filter((r) => !r.leadsCut).map(async (r) => {
      if (await mayFollow) await cut(r, contextOf(r));
    }),
  ]);
}
