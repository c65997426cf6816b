/**
 * The continuous capture of a folder file store (TheHive's storage.provider = localfs): every
 * `intervalMs`, and whenever the folder changes (chokidar, links never followed), it walks the
 * folder (walk.ts: lstat, never entering a link), stores a copy of every regular file that is new
 * or differs from what it recorded (size, mtime, inode), and journals each put and each removal
 * in a signed line. Looks run one at a time; a failed one (the destination down) is logged and
 * the next one starts again from the progress file.
 */
import { CaptureLoop } from '../../capture-loop';
import { JOURNAL_MAX_LINES, JOURNAL_ROTATE_BYTES, storePathProblem, type JournalFields } from '../../../../shared/capture/files-journal';
import { openSeal, type CaptureSeal, type CaptureSigning, type CaptureTarget } from '../../../../shared/capture/seal';
import { signLine } from '../../../../shared/capture/signed-line';
import { captureFilesFolder, captureJournalPath } from '../../../../shared/destination/layout';
import { ConfigError } from '../../../../shared/errors';
import type { Logger } from '../../../../shared/log';
import { LinkRefusedError, NoFollowRoot } from '../../../../shared/nofollow';
import { walkFolder } from '../walk';
import { FilesProgressStore, type FilesProgress } from './progress';
import { newObjectId, removeFields, removeObject, storeObject, writeJournal, type SeenFile } from './store';
import { join } from 'node:path';

/** Options of the file store's capture. */
export interface FilesCaptureOptions {
  /** The folder store (roles.files.location). */
  location: string;
  /** Milliseconds between two walks when nothing changes; default 10 000. */
  intervalMs?: number;
  /** The agent's state folder: the progress goes to `<stateDir>/files-capture/`. */
  stateDir: string;
  target: CaptureTarget;
  /** The agent's TLS files: every journal line is signed with its key. */
  signing: CaptureSigning;
  /** The fleet's age recipients: when given, objects and paths are encrypted; absent, stored in clear. */
  recipients?: readonly string[];
  log: Logger;
  /** Lines a journal holds before the next one is started; default JOURNAL_MAX_LINES. */
  journalMaxLines?: number;
  /** Watch the folder for changes between looks; default true. */
  watch?: boolean;
  now?: () => number;
}

/** What one look did. */
export interface FilesLookReport {
  /** Paths stored (new or changed). */
  stored: string[];
  /** Paths journaled as removed. */
  removed: string[];
  /** Paths refused (links, other than regular files, unusable names). */
  refused: string[];
  /** Paths that changed while they were copied: the next look stores them. */
  retried: string[];
}

/** Files stored between two saves of the progress: bounds what a crash makes the agent store again. */
const BATCH = 32;
type Change = { put: SeenFile } | { remove: string };

/** The capture of one node's folder store. */
export class FilesCapture {
  private readonly store: FilesProgressStore;
  private progress: FilesProgress;
  private readonly now: () => number;
  private readonly root: NoFollowRoot;
  private readonly warned = new Set<string>();
  private published = false;
  private seal: CaptureSeal | null = null;

  private readonly loop: CaptureLoop<FilesLookReport>;

  constructor(private readonly o: FilesCaptureOptions) {
    this.loop = new CaptureLoop({ folder: o.location, folderName: 'the file store', captureName: 'file store capture', intervalMs: o.intervalMs ?? 10_000, watch: o.watch ?? true, log: o.log }, () => this.lookOnce());
    this.now = o.now ?? Date.now;
    this.store = new FilesProgressStore(o.stateDir);
    this.progress = this.store.load();
    this.root = new NoFollowRoot(o.location, `files store ${o.location}`);
  }

  /** Starts looking: once now, then on every change and every intervalMs. */
  start(): void {
    if (this.loop.start()) this.o.log.info({ location: this.o.location, intervalMs: this.o.intervalMs ?? 10_000, destination: this.o.target.dest.describe(), encrypted: Boolean(this.o.recipients?.length) }, 'file store capture started');
  }

  /** Stops looking; resolves when the look under way has ended. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One look, and what it calls for; looks never overlap (a call during one waits for it, then makes its own). */
  look(): Promise<FilesLookReport> {
    return this.loop.look();
  }

  private save(p: FilesProgress): void {
    this.store.save(p);
    this.progress = p;
  }

  /** The seal, opened once; then what a crash left: the objects of an unfinished batch, the journal not yet written. */
  private async open(): Promise<CaptureSeal> {
    const t = this.o.target;
    if (!this.seal) {
      if (this.progress.seq === 0) {
        const first = captureJournalPath(t.cluster, t.node, 1);
        if ((await t.dest.stat(first)) !== null) throw new ConfigError(`${t.dest.describe()}: ${first} is there, and this agent's progress (${this.store.file}) knows no journal: move ${captureFilesFolder(t.cluster, t.node)} aside, or put the progress file back`);
      }
      this.seal = await openSeal(t, this.o.signing, this.o.recipients, join(this.o.stateDir, 'files-capture', 'key.json'), 'the file store capture');
    }
    if (this.progress.pending.length) {
      for (const id of this.progress.pending) await removeObject(t, id);
      this.save({ ...this.progress, pending: [] });
    }
    if (!this.published) {
      if (this.progress.journal.lines.length) await writeJournal(t, this.progress.journal.n, this.progress.journal.lines);
      this.published = true;
    }
    return this.seal;
  }

  /** The folder's regular files; what else is there is refused by name, once in the log. */
  private async scan(report: FilesLookReport): Promise<Map<string, SeenFile>> {
    const seen = new Map<string, SeenFile>();
    const refuse = (path: string, why: string) => {
      report.refused.push(path);
      if (!this.warned.has(path)) this.o.log.warn({ path, location: this.o.location }, `file store capture: ${JSON.stringify(path)} is ${why}: refused, never followed`);
      this.warned.add(path);
    };
    for await (const e of walkFolder(this.o.location)) {
      if ('skipped' in e) refuse(e.skipped.path, e.skipped.reason);
      if (!('file' in e)) continue;
      const why = storePathProblem(e.file.path);
      if (why) refuse(e.file.path, `not a name the journal can hold (${why})`);
      else seen.set(e.file.path, { path: e.file.path, size: e.file.size, mtimeMs: e.file.mtimeMs, ino: e.file.ino });
    }
    return seen;
  }

  private async lookOnce(): Promise<FilesLookReport> {
    const report: FilesLookReport = { stored: [], removed: [], refused: [], retried: [] };
    await this.open();
    const seen = await this.scan(report);
    const changes: Change[] = [];
    for (const f of seen.values()) {
      const r = this.progress.files[f.path];
      if (!r || r.size !== f.size || r.mtimeMs !== f.mtimeMs || (f.ino !== undefined && r.ino !== f.ino)) changes.push({ put: f });
    }
    for (const path of Object.keys(this.progress.files)) if (!seen.has(path)) changes.push({ remove: path });
    for (let i = 0; i < changes.length && !this.loop.stopped; i += BATCH) await this.batch(changes.slice(i, i + BATCH), report);
    if (report.stored.length || report.removed.length) this.o.log.info({ stored: report.stored.length, removed: report.removed.length }, 'file store capture: changes journaled');
    return report;
  }

  /** Stores and journals one batch: pending recorded first, lines and files after, then the journal written. */
  private async batch(changes: Change[], report: FilesLookReport): Promise<void> {
    const t = this.o.target;
    const seal = this.seal!;
    const next = structuredClone(this.progress);
    // A full journal is left as written (its lines are at the destination: published), and a new one started.
    const bytes = next.journal.lines.reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0);
    if (next.journal.lines.length >= (this.o.journalMaxLines ?? JOURNAL_MAX_LINES) || bytes >= JOURNAL_ROTATE_BYTES) next.journal = { n: next.journal.n + 1, lines: [] };
    const ids = changes.map((c) => ('put' in c ? newObjectId() : null));
    next.pending = ids.filter((x): x is string => x !== null);
    this.save(next);
    const append = (fields: JournalFields<'put'> | JournalFields<'remove'>) => {
      next.seq++;
      // Each line is signed once and kept in the progress: a rewrite of the journal keeps its old lines' bytes.
      next.journal.lines.push(signLine(seal.signer, 'file', t.cluster, t.node, { seq: next.seq, ...fields }));
    };
    try {
      for (let k = 0; k < changes.length; k++) {
        const c = changes[k];
        if ('remove' in c) {
          append(removeFields(seal, c.remove, this.now()));
          delete next.files[c.remove];
          report.removed.push(c.remove);
          continue;
        }
        let fields;
        try {
          fields = await storeObject(t, seal, this.root, c.put, ids[k]!, this.now);
        } catch (err) {
          if (!(err instanceof LinkRefusedError)) throw err;
          report.refused.push(c.put.path);
          this.o.log.warn({ path: c.put.path }, `file store capture: ${JSON.stringify(c.put.path)} became a link: refused, never followed`);
          continue;
        }
        if (!fields) {
          report.retried.push(c.put.path);
          continue;
        }
        append(fields);
        next.files[c.put.path] = { size: c.put.size, mtimeMs: c.put.mtimeMs, ...(c.put.ino !== undefined ? { ino: c.put.ino } : {}), object: ids[k]!, storedAt: Date.parse(fields.storedAt) };
        report.stored.push(c.put.path);
      }
    } finally {
      // What was stored before a failure is recorded all the same; an object no line names is removed at the next look.
      const named = new Set(Object.values(next.files).map((f) => f.object));
      next.pending = next.pending.filter((id) => !named.has(id));
      this.published = false;
      this.save(next);
    }
    await writeJournal(t, next.journal.n, next.journal.lines);
    this.published = true;
  }
}
