/**
 * Part of coordinator/sets/, the read side of the destination: verification of a backup set at its
 * destination: every file the manifest lists, the files of
 * earlier sets it references (where those sets store them: a parent pruned since keeps them),
 * and every attachment its files listings hold (at the set that stores it: this one, or an
 * earlier set for an attachment unchanged since), is re-read and its size and sha256 compared
 * with what was recorded at backup time. Listings are read one at a time, line by line; their
 * entries are checked in a bounded pool as they are read.
 *
 * An encrypted set's listings open only with its set key. Without the set identities, the
 * listings' stored bytes are still checked (the manifest records them), but not the attachments,
 * which only a listing names: the report says so in `unchecked`, never counting them verified.
 * With them, each listing is decrypted (its ciphertext checked against the manifest first) and
 * every attachment's stored ciphertext is checked against the size and sha256 the listing records.
 */
import { createHash } from 'node:crypto';
import type { Destination, DestinationConfig } from '../../shared/destination';
import { restoreDestination, storedPath } from '../../shared/encrypted-set';
import { errorMessage } from '../../shared/errors';
import { nodesWith, type Manifest } from '../../shared/manifest';
import type { FileRef } from '../../shared/parts';
import { listingAttachments } from '../../shared/parts/files-paths';
import { toWireDestination } from '../../shared/wire/destination';
import { toWireRestoreOptions, parseRestoreOptions } from '../../shared/wire/restore';
import { RestorePhase } from '../../shared/generated/tandem/v2/agent';
import type { AgentHandle } from '../fleet';
import { forEachBounded } from '../../shared/pool';
import { readManifestAndDigest } from './read-manifest';
import type { SetTrust } from './trust';

/** The outcome of `tandem verify`. */
export interface VerifyReport {
  id: string;
  ok: boolean;
  files: number;
  bytes: number;
  problems: string[];
  /** What was not checked and why (an encrypted set's attachments, without its set identities). */
  unchecked: string[];
}

/** One file to check. */
interface Expected {
  path: string;
  size: number;
  sha256: string;
  /** Why this set needs a file stored elsewhere, appended to its problems. */
  note?: string;
}

/** Who confirms a set's Elasticsearch snapshot: the fleet's agents, and the destination as they are told to read it. */
export interface EsConfirmers {
  agents: readonly AgentHandle[];
  destination: DestinationConfig;
}

/**
 * Re-reads every part of the set from `dest`, the destination the verb opened; never throws for
 * a damaged set, it reports it. Without `es`, the Elasticsearch snapshot is reported unconfirmed.
 */
export async function verifyBackupSet(
  dest: Destination,
  id: string,
  opts: {
    parallelism?: number;
    onFile?: (path: string) => void;
    es?: EsConfirmers;
    /** The manifest already read and checked, with an encrypted set's identities when they were opened. */
    manifest?: { manifest: Manifest; sha256: string; setIdentities?: string[] };
    trust?: SetTrust;
    /** An encrypted set's identities (its own first, see setIdentitiesFor): its attachments are checked only with them. */
    setIdentities?: string[];
  },
): Promise<VerifyReport> {
  // The caller may have read and validated the manifest already (restore, drill, adopt); otherwise only a trusted one is verified.
  if (!opts.manifest && !opts.trust) throw new Error('verifyBackupSet needs the manifest or the keys to trust it by');
  const { manifest, sha256 } = opts.manifest ?? (await readManifestAndDigest(dest, id, opts.trust!));
  const problems: string[] = [];
  const totals = { files: 0, bytes: 0 };
  const check = (list: AsyncIterable<Expected> | Iterable<Expected>) => checkFiles(dest, list, opts.parallelism ?? 4, problems, totals, opts.onFile);
  await check(manifest.files);
  // Files of earlier sets this one is built on, at their own path: a parent pruned since keeps them.
  await check(manifest.references.map((r) => ({ ...r, note: `${r.role === 'cassandra' ? 'an archive' : 'a file'} stored by set ${r.set} that this set references` })));
  const unchecked: string[] = [];
  const encrypted = !!manifest.options.setRecipient;
  const identities = opts.manifest?.setIdentities ?? opts.setIdentities ?? [];
  for (const n of nodesWith(manifest, 'files')) {
    const part = n.parts.files;
    if (encrypted && !identities.length) {
      unchecked.push(`attachments of ${n.node}: not checked: the set is encrypted and only its files listing (${storedPath(part.listing.path)}, checked above) names them, which opens only with the set key; give --identity FILE to check them`);
      continue;
    }
    try {
      // Line by line: a listing of millions of attachments is checked without being held.
      const source = encrypted ? restoreDestination(dest, manifest, identities) : dest;
      await check(listingExpected(source, part.listing, id, n.node, encrypted));
    } catch (err) {
      problems.push(`cannot check the attachments of ${n.node}: ${errorMessage(err)}`);
    }
  }
  await checkEsSnapshot(manifest, sha256, opts.es, problems);
  return { id, ok: problems.length === 0, files: totals.files, bytes: totals.bytes, problems: problems.sort(), unchecked };
}

/**
 * What the attachments of one listing must be, read from it line by line through `source` (the
 * opened set when `encrypted`): in an encrypted set, the stored `.age` file with the ciphertext's
 * size and sha256 the listing records.
 */
async function* listingExpected(source: Destination, ref: FileRef, id: string, node: string, encrypted: boolean): AsyncGenerator<Expected> {
  for await (const a of listingAttachments(source, ref, id, node)) {
    const note = a.set === id ? undefined : `attachment ${a.name} of ${node}, unchanged since set ${a.set} which stores it; this set needs it`;
    if (!encrypted) yield { path: a.path, size: a.size, sha256: a.sha256, note };
    else if (!a.sealed) throw new Error(`${a.path}: the listing of an encrypted set records no ciphertext size and sha256 for it; the listing was altered`);
    else yield { path: storedPath(a.path), size: a.sealed.size, sha256: a.sealed.sha256, note };
  }
}

/** Checks size and sha256 of every file, `parallelism` at a time. */
async function checkFiles(dest: Destination, list: AsyncIterable<Expected> | Iterable<Expected>, parallelism: number, problems: string[], totals: { files: number; bytes: number }, onFile?: (path: string) => void) {
  await forEachBounded(list, parallelism, undefined, async (f) => {
    const why = f.note ? ` (${f.note})` : '';
    try {
      const st = await dest.stat(f.path);
      if (!st) return void problems.push(`${f.path}: missing${why}`);
      if (st.size !== f.size) return void problems.push(`${f.path}: size ${st.size}, manifest says ${f.size}${why}`);
      const h = createHash('sha256');
      for await (const chunk of await dest.get(f.path)) h.update(chunk as Buffer);
      const sum = h.digest('hex');
      if (sum !== f.sha256) problems.push(`${f.path}: sha256 ${sum}, manifest says ${f.sha256} (corrupt)${why}`);
      totals.files++;
      totals.bytes += st.size;
      onFile?.(f.path);
    } catch (err) {
      problems.push(`${f.path}: cannot read: ${errorMessage(err)}${why}`);
    }
  });
}

/** The snapshot itself lives in Elasticsearch's repository: an agent with the role confirms it. */
async function checkEsSnapshot(manifest: Manifest, sha256: string, confirmers: EsConfirmers | undefined, problems: string[]) {
  for (const n of nodesWith(manifest, 'elasticsearch')) {
    const es = n.parts.elasticsearch;
    if ('skipped' in es) continue;
    if (es.state && es.state !== 'SUCCESS') problems.push(`${n.node}: Elasticsearch snapshot state ${es.state}`);
    // An encrypted set holds its snapshot's repository files, checked above with the set's other files: nothing lives in Elasticsearch.
    if (es.staged) continue;
    const agent = confirmers?.agents.find((a) => a.entry.roles.includes('elasticsearch'));
    if (!confirmers || !agent) {
      problems.push('no agent with the elasticsearch role to confirm the Elasticsearch snapshot');
      continue;
    }
    try {
      const r = await agent.restore(
        {
          restoreId: `check-${manifest.id}`.slice(0, 64),
          backupId: manifest.id,
          phase: RestorePhase.CHECK,
          destination: toWireDestination(confirmers.destination),
          options: toWireRestoreOptions(parseRestoreOptions({ skipRoles: ['cassandra', 'files', 'rehearsal'] })),
          manifestSha256: sha256,
          setIdentities: [],
        },
        60_000,
      );
      for (const rep of r.reports) {
        if (rep.role === 'elasticsearch' && !rep.ok) problems.push(...(rep.problems.length ? rep.problems : ['Elasticsearch snapshot check failed']).map((p) => `${agent.node}: ${p}`));
      }
    } catch (err) {
      problems.push(`${agent.node}: cannot confirm the Elasticsearch snapshot: ${errorMessage(err)}`);
    }
  }
}
