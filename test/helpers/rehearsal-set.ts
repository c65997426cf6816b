/**
 * Small complete sets of the rehearsal role written straight into a local destination folder:
 * one stored file and a part record per node, and a manifest that the schema accepts, signed
 * (or not) as a test needs. For tests of what reads the destination: catalog, trust, prune.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MANIFEST_FORMAT, manifestSchema, type Manifest } from '../../shared/manifest';
import { NODE_PART_FORMAT } from '../../shared/parts';
import { sha256Of } from '../../shared/parts/io';
import { signatureFor, type SigningKey } from '../../shared/signing';
import { MANIFEST_FILE, manifestPath, manifestSignaturePath, nodePartPath, roleFile } from '../../shared/destination/layout';

/** How to write one set. */
export interface RehearsalSetOptions {
  /** completedAt, ISO; default now. */
  completedAt?: string;
  nodes?: string[];
  parent?: string | null;
  /** The key that signs the manifest; null writes it unsigned. */
  key: SigningKey | null;
  /** Changes the manifest (JSON value) after it was built and before it is written and signed. */
  tamper?: (m: Record<string, any>) => void;
}

/** Writes `body` at `rel` under `dest`; returns its file record. */
function put(dest: string, rel: string, body: string | Buffer) {
  mkdirSync(dirname(join(dest, rel)), { recursive: true });
  writeFileSync(join(dest, rel), body);
  return { path: rel, size: Buffer.byteLength(body), sha256: sha256Of(body) };
}

/** Writes set `id` into the destination folder `dest`; returns its manifest's bytes. */
export function writeRehearsalSet(dest: string, id: string, o: RehearsalSetOptions): Buffer {
  const completed = o.completedAt ?? new Date().toISOString();
  const at = Date.parse(completed);
  const files: Record<string, unknown>[] = [];
  const nodes = (o.nodes ?? ['n1']).map((node) => {
    const file = put(dest, roleFile(id, node, 'rehearsal', 'part.txt'), `rehearsal part of ${id} from ${node}\n`);
    const parts = { rehearsal: { file, summary: 'one file' } };
    const commits = { rehearsal: { cutAt: Number.isFinite(at) ? at : 0 } };
    const part = { format: NODE_PART_FORMAT, backupId: id, node, committedAt: commits.rehearsal.cutAt, commits, parts, files: [{ ...file, node, role: 'rehearsal' }], references: [], listed: { files: 0, bytes: 0 } };
    const record = put(dest, nodePartPath(id, node), JSON.stringify(part));
    files.push({ ...file, node, role: 'rehearsal' }, { ...record, node, role: 'node' });
    return { node, hostname: node, roles: ['rehearsal'], versions: {}, committedAt: commits.rehearsal.cutAt, clockOffsetMs: 0, record, commits, parts };
  });
  const m: Record<string, any> = manifestSchema.parse({
    format: MANIFEST_FORMAT, id, tag: id, status: 'complete', tandemVersion: 'test',
    startedAt: completed, committedAt: completed, completedAt: completed, durationMs: 0, snapshotSpreadMs: null, options: {},
    nodes, parent: o.parent ?? null, files, references: [], listed: { files: 0, bytes: 0 }, bytes: files.reduce((n, f) => n + (f.size as number), 0),
  }) as Manifest;
  o.tamper?.(m);
  const body = Buffer.from(JSON.stringify(m, null, 1) + '\n');
  if (o.key) put(dest, manifestSignaturePath(id), signatureFor(o.key, MANIFEST_FILE, body));
  put(dest, manifestPath(id), body);
  return body;
}
