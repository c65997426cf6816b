/**
 * Builds the backup set's manifest from every node's part.json and writes it last, atomically.
 * Agents report their part by reference (path, size, sha256): the coordinator reads each one
 * back from the destination, checks it against that reference and its schema, and only then
 * promises in the manifest that the set is whole. The manifest binds the sha256 of every file of
 * the set (part records included; attachments through their listing's), and its signature
 * `<id>/manifest.sig` is written before it, so the manifest stays the last file of a set and a
 * set whose manifest is there is signed.
 */
import type { Destination } from '../../shared/destination';
import { MANIFEST_FILE, manifestPath, manifestSignaturePath, nodePartPath, rolePrefix, type SetRole } from '../../shared/destination/layout';
import type { BackupStatus, DescribeResponse } from '../../shared/generated/tandem/v2/agent';
import { TandemError } from '../../shared/errors';
import { MANIFEST_FORMAT, manifestSchema, snapshotSpread, type Manifest } from '../../shared/manifest';
import { snapshotTagFor } from '../../shared/names';
import { nodePartSchema, TIMELINE_MAX_SPANS, type NodePart, type RunPhaseSpan, type TimelineSpan } from '../../shared/parts';
import { readReferenced } from '../../shared/parts/io';
import { runPool } from '../../shared/pool';
import type { BackupOptions } from '../../shared/wire/backup-options';
import { TANDEM_VERSION } from '../../shared/version';
import { signatureFor } from '../../shared/signing';
import type { FleetConfig } from '../config';
import type { AgentHandle } from '../fleet';
import { signingOf } from '../signing';

/**
 * Writes `<id>/manifest.json`; every file an agent reported must be present at the destination.
 * `phases` are the run's phases so far, the manifest's own open: it is closed here, before the write.
 */
export async function writeManifest(
  fleet: FleetConfig,
  destination: Destination,
  id: string,
  started: number,
  options: BackupOptions,
  agents: readonly AgentHandle[],
  info: Map<string, { d: DescribeResponse; offset: number }>,
  last: Map<string, BackupStatus>,
  parent: string | null = null,
  phases?: RunPhaseSpan[],
): Promise<Manifest> {
  const nodes = await Promise.all(agents.map(async (a) => {
    const d = info.get(a.node)!;
    const status = last.get(a.node);
    const { record, part } = await readNodePart(destination, id, a.node, status);
    return {
      node: a.node,
      hostname: d.d.hostname,
      roles: d.d.roles,
      versions: d.d.versions,
      committedAt: part.committedAt,
      clockOffsetMs: Math.round(d.offset),
      record,
      commits: part.commits,
      parts: part.parts,
      timeline: part.timeline && withFinish(part.timeline, Number(status?.updatedUnixMs ?? 0)),
      files: part.files,
      references: part.references,
      listed: part.listed,
    };
  }));
  const files = nodes.flatMap((n) => [...n.files, { ...n.record, node: n.node, role: 'node' as const }]);
  // The manifest promises that every part is there: check before writing it.
  const present = await sizesAt(destination, id, files);
  const missing = files.filter((f) => present.get(f.path) !== f.size);
  if (missing.length) {
    throw new TandemError(`${missing.length} part(s) missing or of the wrong size at ${destination.describe()}: ${missing.slice(0, 3).map((f) => f.path).join(', ')}`);
  }
  // An earlier set's file this set relies on must still be there as recorded (a prune may not have run meanwhile: it takes the backup lock).
  const references = uniqueRefs(nodes.flatMap((n) => n.references));
  const gone = (await Promise.all(references.map(async (r) => ((await destination.stat(r.path))?.size === r.size ? null : r)))).filter((r) => r !== null);
  if (gone.length) {
    throw new TandemError(`${gone.length} file(s) of earlier sets that this set relies on are missing or changed at ${destination.describe()}: ${gone.slice(0, 3).map((f) => f.path).join(', ')}; run 'tandem backup --full'`);
  }
  const listed = { files: nodes.reduce((n, x) => n + x.listed.files, 0), bytes: nodes.reduce((n, x) => n + x.listed.bytes, 0) };
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
    crossStoreSpreadMs: snapshotSpread(nodes, true),
    options,
    nodes: nodes.map(({ files: _f, listed: _l, references: _r, ...n }) => n),
    parent,
    files,
    references,
    listed,
    bytes: files.reduce((n, f) => n + f.size, 0) + listed.bytes,
    phases: phases?.map((p) => (p.phase === 'manifest' ? { ...p, endedAt: Date.now() } : p)),
  });
  await writeSignedManifest(destination, fleet, manifest);
  return manifest;
}

/** Signs the manifest's exact bytes, writes the signature, then the manifest, each atomically. */
export async function writeSignedManifest(destination: Destination, fleet: Pick<FleetConfig, 'signing'>, manifest: Manifest): Promise<void> {
  const body = JSON.stringify(manifest, null, 1) + '\n';
  await destination.writeAtomic(manifestSignaturePath(manifest.id), signatureFor(signingOf(fleet).key, MANIFEST_FILE, body));
  await destination.writeAtomic(manifestPath(manifest.id), body);
}

/** Reads a node's part.json as its agent reported it: same size and sha256, valid (its files inside `<id>/<node>/`, nodePartSchema), about this node and set. */
async function readNodePart(destination: Destination, id: string, node: string, status: BackupStatus | undefined): Promise<{ record: { path: string; size: number; sha256: string }; part: NodePart }> {
  const ref = status?.part;
  if (!ref) throw new TandemError(`${node} reported no part record for backup ${id}`);
  if (ref.path !== nodePartPath(id, node)) throw new TandemError(`${node} reported its part at ${ref.path}, not ${nodePartPath(id, node)}`);
  const record = { path: ref.path, size: ref.size, sha256: ref.sha256 };
  const part = await readReferenced(destination, record, nodePartSchema, 'part record');
  if (part.backupId !== id || part.node !== node) throw new TandemError(`${ref.path} describes ${part.node} in ${part.backupId}`);
  return { record, part };
}

/**
 * A node's timeline with its finish: from the end of its last span (its part record closed) to
 * the instant its agent reported done (part.json written, roles cleaned up), both by its clock.
 */
function withFinish(timeline: TimelineSpan[], doneAt: number): TimelineSpan[] {
  const from = Math.max(0, ...timeline.map((s) => s.endedAt));
  // A record already at the bound (not one this agent wrote) keeps what it has.
  return from && doneAt >= from && timeline.length < TIMELINE_MAX_SPANS ? [...timeline, { phase: 'finish', startedAt: from, endedAt: doneAt }] : timeline;
}

/**
 * The sizes of the set's own files at the destination. A role's folder is listed once when every
 * file in it is in the manifest (Cassandra's archives: one listing, not one request each); the
 * files role's listing and the part records are looked up one by one, since their folders hold
 * the attachments, which can number in the millions.
 */
async function sizesAt(destination: Destination, id: string, files: { path: string; node: string; role: string }[]): Promise<Map<string, number>> {
  // Only the roles' own files come here ('node', the part records, are looked up one by one): roleFolder checks the role.
  const folderOf = (f: { node: string; role: string }) => rolePrefix(id, f.node, f.role as SetRole);
  const one = files.filter((f) => f.role === 'files' || f.role === 'node' || !f.path.startsWith(folderOf(f)));
  const folders = [...new Set(files.filter((f) => !one.includes(f)).map(folderOf))];
  const present = new Map<string, number>();
  for (const folder of folders) for (const e of await destination.list(folder)) present.set(e.path, e.size);
  await runPool(one, 8, undefined, async (f) => {
    const st = await destination.stat(f.path);
    if (st) present.set(f.path, st.size);
  });
  return present;
}

/** One entry per referenced path (two tables never share an archive, but a retried ship may report one twice). */
function uniqueRefs<T extends { path: string }>(refs: T[]): T[] {
  return [...new Map(refs.map((r) => [r.path, r])).values()];
}
