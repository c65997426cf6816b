/**
 * The hot writer: keeps TheHive's three stores changing during a backup, with records that link
 * across them. Record hw-<seq> is one edgestore row (key = utf8 "hw-<seq>"), one thehive_global
 * document (_id hw-<seq>) and one file files/hw/hw-<seq>, all carrying the same id and timestamp.
 * After all three acknowledged, one JSON line goes to .sandbox/writer.log, so a restore test can tell
 * which records a consistent backup must contain (acknowledged before the backup's cut) or may contain.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { cqlClient, ensureIndex, ensureSchema, ES_INDEX, esClient, KEYSPACE } from './clients';
import { sandboxPaths } from './paths';
import { runningPid, sleep, startDaemon, stopDaemon } from './procs';

export const WRITER_DAEMON = 'writer';

export interface WriterRecord {
  id: string;
  seq: number;
  ts: string;
  cassandraAckAt: string;
  esAckAt: string;
  fileAckAt: string;
}

export interface WriterOptions {
  /** Pause between records; default 250 ms (about 4 records a second). */
  intervalMs?: number;
  /** Stop after this many records; default: until aborted. */
  maxRecords?: number;
  signal?: AbortSignal;
  /** JSON-lines log; default .sandbox/writer.log. */
  logFile?: string;
  onRecord?: (r: WriterRecord) => void;
  /** Where the records go; default the sandbox's own thehive keyspace, thehive_global index and files folder. */
  stores?: WriterStores;
}

/** The three stores a writer writes to: a test that wipes what it restores gives scratch ones. */
export interface WriterStores {
  keyspace: string;
  index: string;
  /** The files store's folder; records go to its hw/ sub-folder. */
  filesDir: string;
}

/** The next sequence number: one past the last logged record, so a restarted writer never reuses an id. */
function nextSeq(logFile: string): number {
  if (!existsSync(logFile)) return 1;
  const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const seq = (JSON.parse(lines[i]!) as WriterRecord).seq;
      if (Number.isInteger(seq)) return seq + 1;
    } catch {
      /* a torn last line after a kill: look further up */
    }
  }
  return 1;
}

async function writeFileDurably(file: string, data: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Runs in the calling process until aborted (or maxRecords); returns the records written. */
export async function runWriter(opts: WriterOptions = {}): Promise<number> {
  const p = sandboxPaths();
  const logFile = opts.logFile ?? p.writerLog;
  const stores = opts.stores ?? { keyspace: KEYSPACE, index: ES_INDEX, filesDir: p.files };
  const hwDir = path.join(stores.filesDir, 'hw');
  mkdirSync(hwDir, { recursive: true });
  const cql = cqlClient();
  const es = esClient();
  let written = 0;
  try {
    await cql.connect();
    await ensureSchema(cql, stores.keyspace);
    await ensureIndex(es, stores.index);
    const insert = `INSERT INTO ${stores.keyspace}.edgestore (key, column1, value) VALUES (?, ?, ?)`;
    let seq = nextSeq(logFile);
    while (!opts.signal?.aborted && (opts.maxRecords === undefined || written < opts.maxRecords)) {
      const id = `hw-${seq}`;
      const ts = new Date().toISOString();
      const payload = JSON.stringify({ id, seq, ts });
      const [cassandraAckAt, esAckAt, fileAckAt] = await Promise.all([
        cql.execute(insert, [Buffer.from(id, 'utf8'), Buffer.from('hw', 'utf8'), Buffer.from(payload, 'utf8')])
          .then(() => new Date().toISOString()),
        es.index({ index: stores.index, id, document: { _label: 'HotWriter', title: id, seq, _createdAt: ts } })
          .then(() => new Date().toISOString()),
        writeFileDurably(path.join(hwDir, id), `${payload}\n`).then(() => new Date().toISOString()),
      ]);
      const record: WriterRecord = { id, seq, ts, cassandraAckAt, esAckAt, fileAckAt };
      appendFileSync(logFile, `${JSON.stringify(record)}\n`);
      opts.onRecord?.(record);
      written++;
      seq++;
      await sleep(opts.intervalMs ?? 250);
    }
  } finally {
    await Promise.allSettled([cql.shutdown(), es.close()]);
  }
  return written;
}

/** Starts the writer as a detached daemon (`node dist/test/sandbox/main.js writer run`). */
export async function startWriter(): Promise<number> {
  const existing = runningPid(WRITER_DAEMON);
  if (existing !== undefined) return existing;
  const p = sandboxPaths();
  return startDaemon({
    name: WRITER_DAEMON,
    argv: [process.execPath, path.join(__dirname, 'main.js'), 'writer', 'run'],
    logFile: path.join(p.state, 'logs', 'writer.out'),
    cwd: p.root,
  });
}

/** Stops the daemon writer (SIGTERM lets it finish the record in flight). */
export async function stopWriter(): Promise<boolean> {
  return stopDaemon(WRITER_DAEMON, 15_000);
}
