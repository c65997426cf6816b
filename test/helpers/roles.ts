/**
 * Helpers for tests that drive roles directly (no agent, no gRPC): backup and restore contexts
 * as the controllers build them, and a manifest as the coordinator would write it from the
 * roles' commit and ship results.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import type { RestoreContext, Role, RoleContext, ShipResult } from '../../agent/roles/role';
import type { RoleSpan } from '../../agent/backup/timeline';
import type { Destination } from '../../shared/destination';
import { nodePartPath } from '../../shared/destination/layout';
import { silentLogger } from '../../shared/log';
import type { ParentRef } from '../../agent/backup/parent';
import { MANIFEST_FORMAT, manifestSchema, type Manifest } from '../../shared/manifest';
import { testSigningKey, writeSignedManifest } from './signing';
import { ROLE_SCHEMAS, type PartRole } from '../../shared/parts';
import { backupOptionsSchema, type BackupOptions } from '../../shared/wire/backup-options';
import { parseRestoreOptions, type RestoreOptionsInput } from '../../shared/wire/restore';

/** A RoleContext as the backup controller builds it, with a fresh backup id. */
export function backupContext(work: string, destination: Destination, role: string, options: Partial<BackupOptions> = {}, node = 'node1'): RoleContext & { updates: unknown[]; spans: RoleSpan[] } {
  const backupId = `it-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const updates: unknown[] = [];
  const spans: RoleSpan[] = [];
  return {
    backupId,
    tag: backupId,
    node,
    options: backupOptionsSchema.parse(options),
    destination,
    parent: null,
    workDir: join(work, 'work', backupId, role),
    signal: new AbortController().signal,
    log: silentLogger(),
    progress: (u) => updates.push(u),
    span: (s) => spans.push(s),
    updates,
    spans,
  };
}

/** A RestoreContext as the restore controller builds it, with a fresh restore id and workDir. */
export function restoreContext(work: string, manifest: Manifest, destination: Destination, role: string, options: RestoreOptionsInput = {}, node = 'node1'): RestoreContext & { updates: unknown[] } {
  const restoreId = `r-${randomBytes(4).toString('hex')}`;
  const updates: unknown[] = [];
  return {
    restoreId,
    backupId: manifest.id,
    node,
    manifest,
    destination,
    options: parseRestoreOptions(options),
    workDir: join(work, 'restore', restoreId, role),
    signal: new AbortController().signal,
    log: silentLogger(),
    progress: (u) => updates.push(u),
    updates,
  };
}

/**
 * Writes `m` as a complete set's manifest at the destination and returns the parent a Prepare
 * naming that set would carry, for a later context's `parent` (parentSet).
 */
export async function publishManifest(destination: Destination, m: Manifest): Promise<ParentRef> {
  // Signed with the process's test key: trustOf() (test/helpers/signing.ts) trusts it.
  return { backupId: m.id, manifestSha256: await writeSignedManifest(destination, m, testSigningKey(), 2) };
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
  const shipped = await role.ship(ctx, commit);
  // What the controller checks before anything reaches part.json: the role's own schemas.
  ROLE_SCHEMAS[role.name].commit.parse(commit);
  const part = ROLE_SCHEMAS[role.name].part.parse(shipped.part) as Record<string, any>;
  return { checks, commit: commit as Record<string, any>, result: part, shipped };
}

/** One role's backup on one node, as the coordinator collects it. */
export interface RoleBackup {
  node: string;
  role: PartRole;
  commit: unknown;
  shipped: ShipResult;
}

/** The manifest the coordinator would write from the roles' commit records and ship results (built on `parent`, if named), parsed by its schema. */
export function manifestOf(backupId: string, backups: RoleBackup[], parent: string | null = null): Manifest {
  const nodes = new Map<string, Record<string, any>>();
  const files: Record<string, unknown>[] = [];
  const listed = { files: 0, bytes: 0 };
  for (const b of backups) {
    // The node's part.json is not written by role-level tests: its record is a placeholder no reader opens.
    const record = { path: nodePartPath(backupId, b.node), size: 0, sha256: '0'.repeat(64) };
    const n = nodes.get(b.node) ?? { node: b.node, hostname: b.node, roles: [], versions: {}, committedAt: Date.now(), clockOffsetMs: 0, record, commits: {}, parts: {} };
    nodes.set(b.node, n);
    n.roles.push(b.role);
    n.commits[b.role] = b.commit;
    n.parts[b.role] = b.shipped.part;
    files.push(...b.shipped.files.map((f) => ({ ...f, node: b.node, role: b.role })));
    listed.files += b.shipped.listed?.files ?? 0;
    listed.bytes += b.shipped.listed?.bytes ?? 0;
  }
  const now = new Date().toISOString();
  return manifestSchema.parse({
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
    parent,
    files,
    references: [],
    listed,
    bytes: files.reduce((a, f) => a + (f.size as number), 0) + listed.bytes,
  });
}
