/**
 * The continuous capture of one node's commitlog: every `intervalMs`, and whenever cdc_raw
 * changes (chokidar: Cassandra rewrites a _cdc.idx at every commitlog sync), it looks at cdc_raw,
 * stores the new durable bytes of each segment at the destination, records them in the progress
 * file, and removes the segments Cassandra is done with once they are stored whole, so cdc_raw
 * stays below cdc_total_space. Looks run one at a time; a failed one (the destination down) is
 * logged and the next one starts again from the progress file.
 */
import { CaptureLoop } from '../../capture-loop';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../../../shared/log';
import { isDone, planCapture, splitRange } from './plan';
import { ProgressStore, type Progress, type SegmentProgress } from './progress';
import { scanCdcRaw } from './scan';
import { indexNameOf } from './segment';
import { openSeal, type CaptureSeal, type CaptureSigning } from './seal';
import { LineSigning, readRange, removePiece, sha256Hex, storePiece, unrecordedPieces, writeGaps, writeSegmentIndex, type CaptureTarget } from './store';

/** What the capture reports to the agent's metrics. */
export interface CaptureMetrics {
  /** After each look: bytes in cdc_raw, durable bytes not stored yet, seconds since everything durable was stored. */
  captured(r: { cdcRawBytes: number; unshippedBytes: number; lagSeconds: number }): void;
  /** Gaps found. */
  gaps(n: number): void;
}

/** Options of a capture. */
export interface CaptureOptions {
  /** Cassandra's cdc_raw_directory. */
  cdcRawDirectory: string;
  /** Milliseconds between two looks when nothing changes; default 10 000. */
  intervalMs?: number;
  /** The agent's state folder: the progress file goes to `<stateDir>/capture/progress.json`. */
  stateDir: string;
  /** Where the pieces go. */
  target: CaptureTarget;
  /** The agent's TLS files: every index and gap line is signed with its key. */
  signing: CaptureSigning;
  /** The fleet's age recipients: when given, every piece is encrypted (seal.ts); absent, stored in clear. */
  recipients?: readonly string[];
  log: Logger;
  metrics?: CaptureMetrics;
  /** Watch cdc_raw for changes between looks; default true. */
  watch?: boolean;
  now?: () => number;
}

/** What one look did. */
export interface LookReport {
  /** Bytes stored (pieces written or adopted). */
  storedBytes: number;
  /** Segments removed from cdc_raw. */
  removed: string[];
  /** Gaps found. */
  gaps: number;
  /** Names of cdc_raw refused (links, other than regular files). */
  refused: string[];
}

/** The capture of one node. */
export class CommitlogCapture {
  private readonly store: ProgressStore;
  private progress: Progress;
  private readonly now: () => number;
  private readonly reconciled = new Set<string>();
  private readonly warned = new Set<string>();
  private caughtUpAt: number;
  private sealed: { seal: CaptureSeal; lines: LineSigning } | null = null;

  private readonly loop: CaptureLoop<LookReport>;

  constructor(private readonly o: CaptureOptions) {
    this.loop = new CaptureLoop({ folder: o.cdcRawDirectory, folderName: 'cdc_raw', captureName: 'commitlog capture', intervalMs: o.intervalMs ?? 10_000, watch: o.watch ?? true, depth: 0, log: o.log }, () => this.lookOnce());
    this.now = o.now ?? Date.now;
    this.store = new ProgressStore(o.stateDir);
    this.progress = this.store.load();
    this.caughtUpAt = this.now();
  }

  /** Starts looking: once now, then on every change and every intervalMs. */
  start(): void {
    if (this.loop.start()) this.o.log.info({ cdcRaw: this.o.cdcRawDirectory, intervalMs: this.o.intervalMs ?? 10_000, destination: this.o.target.dest.describe(), encrypted: Boolean(this.o.recipients?.length) }, 'commitlog capture started');
  }

  /** Stops looking; resolves when the look under way has ended. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One look, and what it calls for; looks never overlap (a call during one waits for it, then makes its own). */
  look(): Promise<LookReport> {
    return this.loop.look();
  }

  private save(p: Progress): void {
    this.store.save(p);
    this.progress = p;
  }

  private async lookOnce(): Promise<LookReport> {
    const t = this.o.target;
    const report: LookReport = { storedBytes: 0, removed: [], gaps: 0, refused: [] };
    if (!this.sealed) {
      const seal = await openSeal(t, this.o.signing, this.o.recipients, this.o.stateDir);
      this.sealed = { seal, lines: new LineSigning(seal, t) };
    }
    const { lines } = this.sealed;
    if (!this.reconciled.has('')) {
      // What a crash may have left unwritten at the destination: the indexes and gaps are rewritten from the progress file.
      for (const [name, rec] of Object.entries(this.progress.segments)) if (rec.pieces.length) await writeSegmentIndex(t, lines, name, rec.pieces);
      if (this.progress.gaps.length) await writeGaps(t, lines, this.progress.gaps);
      this.reconciled.add('');
    }
    const scan = await scanCdcRaw(this.o.cdcRawDirectory, this.now());
    for (const r of scan.refused) {
      report.refused.push(r.name);
      if (!this.warned.has(r.name)) this.o.log.warn({ name: r.name, cdcRaw: this.o.cdcRawDirectory }, `commitlog capture: ${r.name} in cdc_raw is ${r.why}`);
      this.warned.add(r.name);
    }
    for (const s of scan.segments) {
      if (s.indexProblem && !this.warned.has(s.name)) this.o.log.warn({ segment: s.name }, `commitlog capture: ${indexNameOf(s.name)}: ${s.indexProblem}`);
      if (s.indexProblem) this.warned.add(s.name);
    }
    const plan = planCapture(this.progress, scan);
    this.save(plan.progress);
    if (plan.gaps.length) {
      for (const g of plan.gaps) this.o.log.warn({ gap: g }, `commitlog capture: gap: ${g.detail}`);
      await writeGaps(t, lines, this.progress.gaps);
      this.o.metrics?.gaps(plan.gaps.length);
      report.gaps = plan.gaps.length;
    }
    const bySegment = [...new Set(plan.ship.map((s) => s.segment))];
    for (const name of bySegment) report.storedBytes += await this.shipSegment(name);
    let removedBytes = 0;
    for (const name of plan.finish) {
      const rec = this.progress.segments[name];
      if (!rec || !isDone(rec)) continue;
      const size = scan.segments.find((s) => s.name === name)?.size ?? 0;
      // The segment first, its index after: an index left alone is recognised as stray; a segment without its index would look like one without CDC data.
      await unlinkQuietly(join(this.o.cdcRawDirectory, name));
      await unlinkQuietly(join(this.o.cdcRawDirectory, indexNameOf(name)));
      const next = structuredClone(this.progress);
      delete next.segments[name];
      this.save(next);
      lines.forget('piece', `{"segment":${JSON.stringify(name)},`);
      removedBytes += size;
      report.removed.push(name);
      this.o.log.info({ segment: name, bytes: rec.shipped, pieces: rec.pieces.length }, 'commitlog capture: segment stored whole, removed from cdc_raw');
    }
    for (const idx of plan.strayIndexes) await unlinkQuietly(join(this.o.cdcRawDirectory, idx));
    const unshipped = Object.values(this.progress.segments).reduce((n, r) => n + Math.max(0, r.durable - r.shipped), 0);
    if (unshipped === 0) this.caughtUpAt = scan.at;
    this.o.metrics?.captured({ cdcRawBytes: scan.bytes - removedBytes, unshippedBytes: unshipped, lagSeconds: (this.now() - this.caughtUpAt) / 1000 });
    return report;
  }

  /** Stores a segment's bytes from its shipped offset to its durable one; returns the bytes stored. */
  private async shipSegment(name: string): Promise<number> {
    const t = this.o.target;
    const { seal, lines } = this.sealed!;
    const file = join(this.o.cdcRawDirectory, name);
    let stored = 0;
    const record = (fn: (r: SegmentProgress) => void) => {
      const next = structuredClone(this.progress);
      fn(next.segments[name]);
      this.save(next);
    };
    if (!this.reconciled.has(name)) {
      // Pieces stored before a crash and not recorded: adopted when they are this segment's bytes, removed otherwise.
      // An encrypted capture adopts none: its agent cannot read them back to compare.
      const rec = this.progress.segments[name];
      for (const p of await unrecordedPieces(t, name, rec.shipped)) {
        const cur = this.progress.segments[name];
        const adoptable = !seal.key && !p.sealed && p.sha256 !== null && p.start === cur.shipped && p.end <= cur.durable;
        const local = adoptable ? await readRange(file, p.start, p.end) : null;
        if (local && sha256Hex(local) === p.sha256) {
          record((r) => {
            r.pieces.push({ start: p.start, end: p.end, sha256: p.sha256!, storedAt: this.now() });
            r.shipped = p.end;
          });
          stored += p.end - p.start;
          this.o.log.info({ segment: name, start: p.start, end: p.end }, 'commitlog capture: adopted a piece stored before a restart');
        } else {
          await removePiece(t, p.path);
          this.o.log.warn({ segment: name, start: p.start, end: p.end }, 'commitlog capture: removed a stored piece that is not this segment\'s bytes from its recorded offset');
        }
      }
      if (stored) await writeSegmentIndex(t, lines, name, this.progress.segments[name].pieces);
      this.reconciled.add(name);
    }
    const rec = this.progress.segments[name];
    for (const step of splitRange(name, rec.shipped, rec.durable)) {
      const bytes = await readRange(file, step.start, step.end);
      if (!bytes) break; // shorter or gone: the next look says which
      const piece = await storePiece(t, seal, name, step.start, bytes, this.now());
      record((r) => {
        r.pieces.push(piece);
        r.shipped = piece.end;
      });
      await writeSegmentIndex(t, lines, name, this.progress.segments[name].pieces);
      stored += bytes.length;
    }
    return stored;
  }
}

async function unlinkQuietly(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
