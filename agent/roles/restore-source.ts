/**
 * Finding a role's part in a backup set's manifest. The source node may carry another name
 * than this agent (restore to another cluster), so it is found by role, not by ctx.node.
 */
import { PreconditionError } from '../../shared/errors';
import type { Commits, Parts } from '../../shared/parts';
import type { RestoreContext } from './role';

/** The manifest node a role restores from, with its part (ship result) and commit record. */
export interface RestoreSource<R extends keyof Parts & keyof Commits> {
  node: string;
  part: NonNullable<Parts[R]>;
  commit: Commits[R];
}

/** The single manifest node with `role` (or the one named by option sourceNode); throws when ambiguous or absent. */
export function restoreSource<R extends keyof Parts & keyof Commits>(ctx: RestoreContext, role: R): RestoreSource<R> {
  const nodes = ctx.manifest.nodes.filter((n) => n.parts[role] !== undefined);
  const named = ctx.options.sourceNode;
  let pick = named ? nodes.find((n) => n.node === named) : nodes.length === 1 ? nodes[0] : undefined;
  // Several sources (a files share backed up per node): the one with this agent's name is the natural choice.
  if (!pick && !named && nodes.length > 1) pick = nodes.find((n) => n.node === ctx.node);
  const part = pick?.parts[role];
  if (!pick || part === undefined) {
    const have = nodes.map((n) => n.node).join(', ') || 'none';
    if (named) throw new PreconditionError(`backup ${ctx.backupId} has no ${role} part from node ${named} (nodes with one: ${have})`);
    if (!nodes.length) throw new PreconditionError(`backup ${ctx.backupId} has no ${role} part`);
    throw new PreconditionError(`backup ${ctx.backupId} has ${role} parts from several nodes (${have}); set option sourceNode`);
  }
  return { node: pick.node, part: part as NonNullable<Parts[R]>, commit: pick.commits[role] };
}
