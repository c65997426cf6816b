/**
 * The ship step of a committed backup on this agent: every role ships what its cut holds, one role
 * after another; the node's record of it (`<id>/<node>/part.json`: each role's part, the files it
 * stored and the earlier sets' files it relies on, the node's timeline) is written once every role
 * has shipped; then each role cleans up (its snapshot, its helpers). A role whose part breaks its
 * schema fails the step by name before anything of it is written.
 */
import type { Destination } from '../../shared/destination';
import { nodePartPath } from '../../shared/destination/layout';
import { NODE_PART_FORMAT, nodePartSchema, type FileRef, type NodePart, type SetFile } from '../../shared/parts';
import { writeReferenced } from '../../shared/parts/io';
import type { Role, RoleContext, ShipResult } from '../roles/role';
import { checked } from './role-records';
import { SealedDestination } from './sealed-destination';
import { storedPath } from '../../shared/encrypted-set';
import { TandemError } from '../../shared/errors';
import type { BackupRecord } from './state';
import { shipCounts, type Timelines } from './timeline';

/** What the ship step stored: the node's part.json, and the bytes of its archives alone and of everything. */
export interface Shipped {
  part: FileRef;
  /** The archives' bytes (what the roles stored themselves). */
  archived: number;
  /** Every file and byte this node stored for the set: archives, listed attachments and part.json. */
  stored: { files: number; bytes: number };
}

/** What the ship step works with: the committed backup, its roles and where its spans go. */
export interface ShipInput {
  node: string;
  /** The backup's record once committed: its plan and every role's commit record. */
  rec: BackupRecord;
  roles: readonly Role[];
  timelines: Timelines;
  contextOf(role: Role): RoleContext;
  /** The plan's destination, where part.json goes. */
  destination: Destination;
}

/** Ships every role, writes the node's part.json, then cleans up every role. Throws at the first failure. */
export async function shipNode({ node, rec, roles, timelines, contextOf, destination }: ShipInput): Promise<Shipped> {
  const backupId = rec.plan.backupId;
  const record = emptyNodePart(node, rec);
  for (const role of roles) {
    const ctx = contextOf(role);
    const r = await timelines.timed(backupId, { phase: 'ship', role: role.name }, () => role.ship(ctx, rec.commits[role.name]), shipCounts);
    addRoleShip(record, node, role.name, await asStored(ctx, r));
  }
  record.timeline = timelines.spans(backupId);
  const part = await writeNodePart(destination, rec, node, record);
  for (const role of roles) await role.cleanup(contextOf(role));
  const archived = record.files.reduce((n, f) => n + f.size, 0);
  return { part, archived, stored: { files: record.files.length + record.listed.files + 1, bytes: archived + record.listed.bytes + part.size } };
}

/**
 * What a role shipped, with its files as stored: in an encrypted set, each file the role names by
 * its plain path is recorded as its `.age` file, with the ciphertext's size and sha256, so that the
 * manifest vouches for the bytes at the destination. The role's part keeps its plain names (the
 * restore side opens them through the set key); references to earlier sets are the stored files
 * the role found recorded there.
 */
async function asStored(ctx: RoleContext, r: ShipResult): Promise<ShipResult> {
  const destination = ctx.destination;
  if (!(destination instanceof SealedDestination)) return r;
  const references = r.references ?? [];
  if (references.length && !ctx.parent) throw new TandemError('a role of an encrypted set reported files of earlier sets without a parent set');
  // An encrypted set builds only on an encrypted parent (the coordinator chooses so): what this set relies on is the `.age` file the parent's manifest vouches for.
  const parent = references.length ? (await ctx.parent!.load()).manifest : null;
  const vouched = new Map(parent ? [...parent.files, ...parent.references].map((f) => [f.path, f]) : []);
  return {
    ...r,
    files: r.files.map((f) => destination.storedAs(f)),
    references: references.map((ref) => {
      const v = vouched.get(storedPath(ref.path));
      if (!v) throw new TandemError(`${ref.path}: the parent set's manifest records no ${storedPath(ref.path)}; run the backup with --full`);
      return { path: v.path, size: v.size, sha256: v.sha256, set: ref.set };
    }),
  };
}

/** The node's record before any role has shipped. */
function emptyNodePart(node: string, rec: BackupRecord): NodePart {
  return { format: NODE_PART_FORMAT, backupId: rec.plan.backupId, node, committedAt: rec.committedAt, commits: rec.commits, parts: {}, files: [], references: [], listed: { files: 0, bytes: 0 } };
}

/** Adds what one role shipped to the node's record: its part (checked), its files and references, its listed totals. */
function addRoleShip(record: NodePart, node: string, role: Role['name'], r: ShipResult): void {
  (record.parts as Record<string, unknown>)[role] = checked(role, 'part', r.part);
  record.files.push(...r.files.map((f): SetFile => ({ ...f, node, role })));
  record.references.push(...(r.references ?? []).map((f) => ({ ...f, node, role })));
  record.listed.files += r.listed?.files ?? 0;
  record.listed.bytes += r.listed?.bytes ?? 0;
}

/** Writes `<id>/<node>/part.json`, the node's record that the coordinator puts into the manifest. */
async function writeNodePart(destination: Destination, rec: BackupRecord, node: string, record: NodePart): Promise<FileRef> {
  return writeReferenced(destination, nodePartPath(rec.plan.backupId, node), JSON.stringify(nodePartSchema.parse(record)) + '\n');
}
