/** Builds the backup set's manifest from every agent's report and writes it last, atomically. */
import { openDestination } from '../../shared/destination';
import type { BackupStatus, DescribeResponse } from '../../shared/generated/tandem/v1/agent';
import { TandemError } from '../../shared/errors';
import { filesOfParts, MANIFEST_FORMAT, manifestPath, manifestSchema, snapshotSpread, type Manifest } from '../../shared/manifest';
import { snapshotTagFor } from '../../shared/names';
import { TANDEM_VERSION } from '../../shared/version';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';

/** Writes `<id>/manifest.json`; every file an agent reported must be present at the destination. */
export async function writeManifest(
  fleet: FleetConfig,
  id: string,
  started: number,
  options: Record<string, string>,
  agents: readonly AgentHandle[],
  info: Map<string, { d: DescribeResponse; offset: number }>,
  last: Map<string, BackupStatus>,
): Promise<Manifest> {
  const nodes = agents.map((a) => {
    const s = last.get(a.node)!;
    const d = info.get(a.node)!;
    const commit = JSON.parse(s.commitJson || '{}') as { committedAt?: number; roles?: Record<string, unknown> };
    return {
      node: a.node,
      hostname: d.d.hostname,
      roles: d.d.roles,
      versions: d.d.versions,
      committedAt: commit.committedAt ?? 0,
      clockOffsetMs: Math.round(d.offset),
      commits: commit.roles ?? {},
      parts: JSON.parse(s.resultJson || '{}') as Record<string, unknown>,
    };
  });
  const files = nodes.flatMap((n) => filesOfParts(n.node, n.parts));
  // Each file is listed once, in `files`; the parts keep the rest of what the roles reported.
  for (const n of nodes) {
    n.parts = Object.fromEntries(Object.entries(n.parts).map(([role, part]) => {
      const { files: _listed, ...rest } = (part ?? {}) as Record<string, unknown>;
      return [role, rest];
    }));
  }
  const destination = openDestination(fleet.destination);
  // The manifest promises that every part is there: check before writing it.
  const present = new Map((await destination.list(`${id}/`)).map((e) => [e.path, e.size]));
  const missing = files.filter((f) => present.get(f.path) !== f.size);
  if (missing.length) {
    throw new TandemError(`${missing.length} part(s) missing or of the wrong size at ${destination.describe()}: ${missing.slice(0, 3).map((f) => f.path).join(', ')}`);
  }
  const committed = Math.min(...nodes.map((n) => n.committedAt - n.clockOffsetMs));
  const manifest: Manifest = manifestSchema.parse({
    format: MANIFEST_FORMAT,
    id,
    tag: snapshotTagFor(id),
    status: 'complete',
    tandemVersion: TANDEM_VERSION,
    startedAt: new Date(started).toISOString(),
    committedAt: new Date(committed).toISOString(),
    completedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    snapshotSpreadMs: snapshotSpread(nodes),
    options,
    nodes,
    files,
    bytes: files.reduce((n, f) => n + f.size, 0),
  });
  await destination.writeAtomic(manifestPath(id), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
