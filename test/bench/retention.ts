/**
 * `tandem list` and `tandem prune` over a year of daily sets at a local destination. One real set
 * is made by a rehearsal fleet (real agents, the real CLI), then cloned into 365 daily sets: ids,
 * paths, node records and manifests rewritten with correct sha256s and parsed by the same schemas
 * (every clone verifies), completedAt one day apart, each set referencing a file of its parent as
 * an incremental set does, and `extraFiles` more small files per set so that the destination holds
 * tens of thousands of files. Needs no sandbox. Not a test: it prints a table beside the targets.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { manifestSchema, parseManifest, type Manifest } from '../../shared/manifest';
import { nodePartSchema } from '../../shared/parts';
import { sha256Of } from '../../shared/parts/io';
import { snapshotTagFor } from '../../shared/names';
import { runCommand } from '../../shared/exec';
import { makeFleet, removeFleet, runCli, startFleet, stopFleet, type TestFleet } from '../helpers/fleet';
import { removeScratch, scratchDirSync } from '../helpers/scratch';
import { median } from './stats';
import { signingKeyAt } from '../helpers/signing';
import { signatureFor, type SigningKey } from '../../shared/signing';

/** One row of the report. */
export interface RetentionBenchRow {
  what: string;
  target: string;
  runs: number;
  medianSeconds: number;
  worstSeconds: number;
  note: string;
}

const DAY = 86_400_000;

/** A generated id for an instant, as `tandem backup` makes them (fixed suffix: one set per day). */
const idFor = (ms: number, i: number) => `tandem-${new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '').toLowerCase()}z-${i.toString(16).padStart(6, '0')}`;

/** Writes `body` at `rel` under the destination; returns its file record. */
function put(dest: string, rel: string, body: string) {
  mkdirSync(dirname(join(dest, rel)), { recursive: true });
  writeFileSync(join(dest, rel), body);
  return { path: rel, size: Buffer.byteLength(body), sha256: sha256Of(body) };
}

/** Clones the template set into `count` daily sets ending today, each built on the one before and signed with `key` (the fleet's). */
export function cloneSets(dest: string, template: Manifest, count: number, extraFiles: number, key: SigningKey): string[] {
  const ids: string[] = [];
  // Never in the future: a manifest completed later than now is refused (invalid-field).
  const end = Math.min(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate(), 2, 30), Date.now() - 60_000);
  let parent: Manifest | null = null;
  for (let i = 0; i < count; i++) {
    const at = end - (count - 1 - i) * DAY;
    const id = idFor(at, i);
    const swap = (p: string) => p.replace(`${template.id}/`, `${id}/`);
    const files: Manifest['files'] = [];
    const nodes = template.nodes.map((n) => {
      const rehearsal = n.parts.rehearsal!;
      const body = `rehearsal part of ${id} from ${n.node}\n`;
      const file = put(dest, swap(rehearsal.file.path), body);
      const extra = Array.from({ length: extraFiles }, (_, k) => put(dest, `${id}/${n.node}/rehearsal/extra/${k}.bin`, `${id} ${n.node} ${k}\n`));
      const parts = { rehearsal: { file, summary: rehearsal.summary } };
      // Each set relies on its parent's file of the same node, as an incremental set relies on its parent's archives.
      const references = parent ? parent.files.filter((f) => f.node === n.node && f.path.endsWith('/rehearsal/part.txt')).map((f) => ({ ...f, set: parent!.id })) : [];
      const part = nodePartSchema.parse({
        format: 'tandem.node-part/v1', backupId: id, node: n.node, committedAt: at - 60_000, commits: { rehearsal: { cutAt: at - 60_000 } }, parts,
        files: [{ ...file, node: n.node, role: 'rehearsal' }, ...extra.map((e) => ({ ...e, node: n.node, role: 'rehearsal' as const }))],
        references, listed: { files: 0, bytes: 0 },
      });
      const record = put(dest, `${id}/${n.node}/part.json`, JSON.stringify(part));
      files.push(...part.files, { ...record, node: n.node, role: 'node' });
      return { ...n, committedAt: at - 60_000, record, commits: part.commits, parts, references };
    });
    const manifest: Manifest = manifestSchema.parse({
      ...template,
      id,
      tag: snapshotTagFor(id),
      startedAt: new Date(at - 120_000).toISOString(),
      committedAt: new Date(at - 60_000).toISOString(),
      completedAt: new Date(at).toISOString(),
      nodes: nodes.map(({ references: _r, ...n }) => n),
      parent: parent?.id ?? null,
      files,
      references: nodes.flatMap((n) => n.references),
      bytes: files.reduce((s, f) => s + f.size, 0),
    });
    const body = JSON.stringify(manifest, null, 1) + '\n';
    // The signature first, as the coordinator writes it.
    put(dest, `${id}/manifest.sig`, signatureFor(key, 'manifest.json', body));
    put(dest, `${id}/manifest.json`, body);
    parseManifest(readFileSync(join(dest, id, 'manifest.json')), id);
    ids.push(id);
    parent = manifest;
  }
  return ids;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}


/** Makes the sets, then times `tandem list` `runs` times and `tandem prune` at most 3 times (on a fresh copy each time), each prune beside a plain `rm -rf` of what it removed. */
export async function benchRetention(o: { sets?: number; extraFiles?: number; runs?: number } = {}): Promise<RetentionBenchRow[]> {
  const count = o.sets ?? 365;
  const extraFiles = o.extraFiles ?? 100;
  const runs = o.runs ?? 5;
  const fleet: TestFleet = await makeFleet([{ node: 'n1', roles: { rehearsal: { shipMs: 0 } } }, { node: 'n2', roles: { rehearsal: { shipMs: 0 } } }]);
  const work = scratchDirSync('bench-retention');
  try {
    await startFleet(fleet);
    const made = await runCli(['backup', '--config', fleet.fleetFile, '--id', 'template-set']);
    if (made.code !== 0) throw new Error(`the template backup failed: ${made.stderr}`);
    await stopFleet(fleet);
    const template = parseManifest(readFileSync(join(fleet.destDir, 'template-set', 'manifest.json')), 'template-set');
    const pristine = join(work, 'pristine');
    const ids = cloneSets(pristine, template, count, extraFiles, signingKeyAt(fleet.signing.key));
    const fleetConf = JSON.parse(readFileSync(fleet.fleetFile, 'utf8'));
    const fleetFile = join(work, 'fleet.yaml');
    const dest = join(work, 'dest');
    writeFileSync(fleetFile, JSON.stringify({ ...fleetConf, destination: { type: 'local', path: dest }, stateDir: join(work, 'state') }));
    const cli = async (args: string[]) => {
      const r = await runCli([...args, '--config', fleetFile]);
      if (r.code !== 0) throw new Error(`tandem ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-500)}`);
      return r;
    };
    cpSync(pristine, dest, { recursive: true });
    const first = await cli(['verify', ids[0]]);
    void first;
    const listTimes: number[] = [];
    for (let i = 0; i < runs; i++) listTimes.push(await timed(async () => void (await cli(['list', '--json']))));
    const pruneTimes: number[] = [];
    const floorTimes: number[] = [];
    let kept = 0;
    let removedFiles = 0;
    const floor = join(work, 'floor');
    for (let i = 0; i < Math.min(runs, 3); i++) {
      rmSync(dest, { recursive: true, force: true });
      cpSync(pristine, dest, { recursive: true });
      let out = '';
      pruneTimes.push(await timed(async () => void (out = (await cli(['prune', '--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12', '--json'])).stdout)));
      const report = JSON.parse(out) as { kept: unknown[]; removed: { id: string }[] };
      kept = report.kept.length;
      // The floor, in the same run: one plain `rm -rf` of the folders the prune removed, on a fresh copy.
      rmSync(floor, { recursive: true, force: true });
      cpSync(pristine, floor, { recursive: true });
      const victims = report.removed.map((r) => join(floor, r.id));
      removedFiles = Number((await runCommand(['find', ...victims, '-type', 'f', '-printf', '.'])).stdout.length);
      floorTimes.push(await timed(async () => void (await runCommand(['rm', '-rf', '--', ...victims], { timeoutMs: 600_000 }))));
    }
    const keptIds = (JSON.parse((await cli(['list', '--json'])).stdout).backupSets as { id: string; status: string }[]).filter((s) => s.status === 'complete').map((s) => s.id);
    for (const id of keptIds) await cli(['verify', id]);
    const files = count * (template.nodes.length * (extraFiles + 2) + 1);
    return [
      { what: `tandem list, ${count} sets`, target: '< 2 s', runs, medianSeconds: median(listTimes), worstSeconds: Math.max(...listTimes), note: `${files} files at the destination` },
      { what: `tandem prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12, ${count} daily sets`, target: '< 10 s', runs: pruneTimes.length, medianSeconds: median(pruneTimes), worstSeconds: Math.max(...pruneTimes), note: `${kept} sets kept, each verifies` },
      { what: `floor: rm -rf of the ${count - kept} folders the prune removes`, target: '', runs: floorTimes.length, medianSeconds: median(floorTimes), worstSeconds: Math.max(...floorTimes), note: `${removedFiles} files, one process` },
    ];
  } finally {
    await removeFleet(fleet);
    removeScratch(work);
  }
}
