/**
 * Helpers for tests that drive roles directly (no agent, no gRPC): backup and restore contexts
 * as the controllers build them, and a manifest as the coordinator would write it from the
 * roles' commit and ship results.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import type { RestoreContext, Role, RoleContext } from '../../agent/roles/role';
import type { Destination } from '../../shared/destination';
import { silentLogger } from '../../shared/log';
import { filesOfParts, MANIFEST_FORMAT, type Manifest } from '../../shared/manifest';

/** A RoleContext as the backup controller builds it, with a fresh backup id. */
export function backupContext(work: string, destination: Destination, role: string, options: Record<string, string> = {}, node = 'node1'): RoleContext & { updates: unknown[] } {
  const backupId = `it-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const updates: unknown[] = [];
  return {
    backupId,
    tag: backupId,
    node,
    options,
    destination,
    workDir: join(work, 'work', backupId, role),
    signal: new AbortController().signal,
    log: silentLogger(),
    progress: (u) => updates.push(u),
    updates,
  };
}

/** A RestoreContext as the restore controller builds it, with a fresh restore id and workDir. */
export function restoreContext(work: string, manifest: Manifest, destination: Destination, role: string, options: Record<string, string> = {}, node = 'node1'): RestoreContext & { updates: unknown[] } {
  const restoreId = `r-${randomBytes(4).toString('hex')}`;
  const updates: unknown[] = [];
  return {
    restoreId,
    backupId: manifest.id,
    node,
    manifest,
    destination,
    options,
    workDir: join(work, 'restore', restoreId, role),
    signal: new AbortController().signal,
    log: silentLogger(),
    progress: (u) => updates.push(u),
    updates,
  };
}

/** The failed checks of a preflight, as `name: message` lines. */
export const failedChecks = (checks: { ok: boolean; name: string; message: string }[]) => checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.message}`);

/** Runs preflight → prepare → commit → ship as the backup controller does; fails on any failed check. */
export async function runBackup(role: Role, ctx: RoleContext, between?: () => void | Promise<void>) {
  const checks = await role.preflight(ctx);
  assert.equal(failedChecks(checks), [], 'preflight');
  await role.prepare(ctx);
  const commit = await role.commit(ctx);
  await between?.();
  const result = (await role.ship(ctx, commit)) as Record<string, any>;
  return { checks, commit: commit as Record<string, any>, result };
}

/** One role's backup on one node, as the coordinator collects it. */
export interface RoleBackup {
  node: string;
  role: string;
  commit: unknown;
  result: Record<string, unknown>;
}

/** The manifest the coordinator would write: parts without their `files`, which go to manifest.files. */
export function manifestOf(backupId: string, backups: RoleBackup[]): Manifest {
  const nodes = new Map<string, Manifest['nodes'][number]>();
  const files: Manifest['files'] = [];
  for (const b of backups) {
    const n = nodes.get(b.node) ?? { node: b.node, hostname: b.node, roles: [], versions: {}, committedAt: Date.now(), clockOffsetMs: 0, commits: {}, parts: {} };
    nodes.set(b.node, n);
    const { files: _f, ...part } = b.result;
    n.roles.push(b.role);
    n.commits[b.role] = b.commit;
    n.parts[b.role] = part;
    files.push(...filesOfParts(b.node, { [b.role]: b.result }));
  }
  const now = new Date().toISOString();
  return {
    format: MANIFEST_FORMAT,
    id: backupId,
    tag: backupId,
    status: 'complete',
    tandemVersion: 'test',
    startedAt: now,
    committedAt: now,
    completedAt: now,
    durationMs: 0,
    snapshotSpreadMs: null,
    options: {},
    nodes: [...nodes.values()],
    files,
    bytes: files.reduce((a, f) => a + f.size, 0),
  };
}
