/**
 * The complete set a backup is built on, as an agent reads it: the coordinator names it and the
 * sha256 of its manifest; the agent reads that manifest from the destination itself, checks it
 * against the digest, and gives each role this node's part of it. A role then stores only what
 * that part does not already hold.
 *
 * The coordinator names only a parent whose manifest signature it checked (agents hold no keys):
 * the sha256 it sends binds this agent to exactly those bytes, and every file taken from the
 * parent (contents.json, the files listing, the archives they name) is read through the record
 * of that manifest (size and sha256), so nothing planted at the destination is built on.
 */
import type { Destination } from '../../shared/destination';
import { MANIFEST_MAX_BYTES, readCapped } from '../../shared/signing';
import { ValidationError } from '../../shared/errors';
import { manifestPath } from '../../shared/destination/layout';
import { manifestDigest, parseManifest, type Manifest, type ManifestNode } from '../../shared/manifest';
import { BACKUP_ID } from '../../shared/names';
import type { BackupParent } from '../../shared/generated/tandem/v2/agent';

/** The parent named by a plan, as persisted with it. */
export interface ParentRef {
  backupId: string;
  manifestSha256: string;
}

/** The parent set, read on first use and kept for the backup's ship step. */
export interface ParentSet {
  readonly backupId: string;
  /** The parent's manifest and this node's entry in it (undefined when the parent had no such node). */
  load(): Promise<{ manifest: Manifest; node: ManifestNode | undefined }>;
}

/** Validates the parent a Prepare carries; null for a full backup. */
export function parseParent(input: BackupParent | undefined, backupId: string): ParentRef | null {
  if (!input || !input.backupId) return null;
  if (!BACKUP_ID.test(input.backupId)) throw new ValidationError(`plan.parent.backupId: ${JSON.stringify(input.backupId)} must match ${BACKUP_ID.source}`);
  if (input.backupId === backupId) throw new ValidationError('plan.parent.backupId: a backup cannot be its own parent');
  if (!/^[0-9a-f]{64}$/.test(input.manifestSha256)) throw new ValidationError('plan.parent.manifestSha256: must be a lowercase hex sha256');
  return { backupId: input.backupId, manifestSha256: input.manifestSha256 };
}

/** A lazily read parent for `node`; the manifest is read once per backup. */
export function parentSet(ref: ParentRef, destination: Destination, node: string): ParentSet {
  let loading: Promise<{ manifest: Manifest; node: ManifestNode | undefined }> | undefined;
  const read = async () => {
    // Capped before it is read: what the destination holds is not trusted until its digest matches.
    const body = await readCapped(destination, manifestPath(ref.backupId), MANIFEST_MAX_BYTES);
    if (!body || manifestDigest(body) !== ref.manifestSha256) {
      throw new ValidationError(`${manifestPath(ref.backupId)} is not the manifest the coordinator chose as parent (sha256 differs): run the backup again, or with --full`);
    }
    const manifest = parseManifest(body, ref.backupId);
    return { manifest, node: manifest.nodes.find((n) => n.node === node) };
  };
  return {
    backupId: ref.backupId,
    load: () => (loading ??= read().catch((err) => {
      loading = undefined;
      throw err;
    })),
  };
}
