/**
 * A destination on a remote host, reached with rsync and ssh (argv only, never a local shell).
 * Streams (archives, attachments, manifests) go straight to the backup host over ssh, with no
 * copy on local disk (ssh-stream.ts): a hidden temporary name, then a rename, so files appear
 * atomically. A stream cannot be sent twice: an upload cut short throws TransferInterruptedError
 * and its maker sends it again (retryStreamedPut). A local file goes with rsync, which writes a
 * hidden temporary too and whose --partial-dir lets a retry resume a multi-GB file. Remote
 * commands (mkdir, find, rm, cat) go through ssh, whose remote side does run a shell: every word
 * is single-quoted, on top of the strict path validation. The remote host needs rsync and GNU
 * coreutils and find (any Linux).
 */
import { promises as fs } from 'node:fs';
import { posix, resolve as resolvePath } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CommandError, PreconditionError, TandemError, TransferInterruptedError, ValidationError, errorMessage } from '../errors';
import { runCommand, spawnProcess, type CommandRunner, type ProcessSpawner } from '../exec';
import { retry } from '../retry';
import { AlreadyExistsError, ReplaceBusyError, VersionMismatchError, contentVersion, digestOfVersion, readVersionedByContent, type Versioned } from './conditional';
import type { RsyncDestinationConfig } from './config';
import { isHiddenRelPath, joinRoot, relPathProblem, safeRelPath, safeRelPrefix } from './paths';
import { EXIT_LINK, EXIT_PUT_FAILED, getStream, linkGuard, linkRefusal, putStream, shQuote } from './ssh-stream';
import { checkCap, readCapped } from './read';
import { retryStreamedPut } from './streamed';
import type { Destination, DestinationEntry, PutOptions, PutResult } from './types';

export { shQuote };

/** Knobs that are not part of the YAML config (test seams and tuning). */
export interface RsyncOptions {
  /** Runs rsync and ssh; default runCommand. */
  runner?: CommandRunner;
  /** Starts the ssh that streams an upload or a download; default spawnProcess. */
  spawner?: ProcessSpawner;
  /** Attempts per transfer or remote command; default 3. */
  attempts?: number;
  /** Longest wait before the first retry in ms (the wait is random below it), doubled each time; default 2000. */
  retryDelayMs?: number;
}

/** rsync/ssh exit codes worth retrying: network, I/O, partial transfer, timeouts, ssh (255). */
const RETRYABLE = new Set([10, 11, 12, 20, 23, 30, 35, 255]);

/** The ssh options (without host) for this config; each is one word without spaces or quotes. */
export function sshOptions(c: RsyncDestinationConfig): string[] {
  const o = ['-p', String(c.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'UpdateHostKeys=no'];
  o.push('-o', 'ConnectTimeout=20', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4', '-o', 'LogLevel=ERROR');
  if (c.identityFile) o.push('-i', c.identityFile, '-o', 'IdentitiesOnly=yes');
  if (c.knownHostsFile) o.push('-o', `UserKnownHostsFile=${c.knownHostsFile}`);
  // rsync splits the -e value on whitespace and honours quotes: the config schema already
  // forbids these characters, this guards against a future option that forgets to.
  for (const w of o) if (/[\s'"\\]/.test(w)) throw new ValidationError(`ssh option ${JSON.stringify(w)} contains whitespace or quotes`);
  return o;
}

/** The rsync argv (without source and target) for this config. */
export function rsyncOptions(c: RsyncDestinationConfig): string[] {
  const o = ['rsync', '--partial-dir=.rsync-partial', `--timeout=${c.ioTimeoutSeconds}`];
  // Without -t the target's mtime never matches, but be explicit: same size must not mean "skip".
  o.push('--ignore-times');
  if (c.bwlimitKBps) o.push(`--bwlimit=${c.bwlimitKBps}`);
  o.push('-e', ['ssh', ...sshOptions(c)].join(' '));
  return o;
}

/** Destination on a folder of a remote host, via rsync over ssh. */
export class RsyncDestination implements Destination {
  private readonly run: CommandRunner;
  private readonly spawn: ProcessSpawner;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly madeDirs = new Set<string>();

  constructor(private readonly config: RsyncDestinationConfig, options: RsyncOptions = {}) {
    this.run = options.runner ?? runCommand;
    this.spawn = options.spawner ?? spawnProcess;
    this.attempts = options.attempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 2000;
  }

  describe(): string {
    const c = this.config;
    return `rsync://${c.user}@${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}${c.path}`;
  }

  /** `user@host:` as rsync wants it (IPv6 in brackets). */
  private remoteSpec(absPath: string): string {
    const h = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `${this.config.user}@${h}:${absPath}`;
  }

  /** linkGuard() of a destination-relative path: no link on it below the root. */
  private guard(rel: string): string[] {
    return linkGuard(this.config.path, rel);
  }

  /** Runs a command on the remote host; `words` are quoted one by one for the remote shell. */
  async ssh(words: string[], signal?: AbortSignal): Promise<string> {
    const argv = [...this.sshArgv(), words.join(' ')];
    return (await this.retry(() => this.run(argv, { signal }), signal)).stdout;
  }

  /** `ssh <options> -- user@host`, to which the remote command is appended. */
  private sshArgv(): string[] {
    return ['ssh', ...sshOptions(this.config), '--', `${this.config.user}@${this.config.host}`];
  }

  private abs(relPath: string): string {
    return joinRoot(this.config.path, safeRelPath(relPath));
  }

  private async mkdirRemote(dir: string, relDir: string, signal?: AbortSignal): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await this.ssh([...this.guard(relDir), 'mkdir', '-p', '--', shQuote(dir)], signal);
    this.madeDirs.add(dir);
  }

  /** Retries `fn` on transient rsync/ssh failures, with backoff from retryDelayMs. */
  private async retry<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await retry(fn, { attempts: this.attempts, baseDelayMs: this.retryDelayMs, retryable: isTransient, signal });
    } catch (err) {
      throw signal?.aborted ? err : explain(err, this); // the caller's abort is not a failure to explain
    }
  }

  /** Copies a local file to an absolute remote path (rsync: temp name, then rename). */
  private async upload(localFile: string, remotePath: string, relPath: string, signal?: AbortSignal): Promise<void> {
    await this.mkdirRemote(posix.dirname(remotePath), posix.dirname(relPath), signal);
    // rsync writes its temporary beside the final name, then renames it: a link at that name is refused first.
    await this.ssh(this.guard(relPath).concat(['true']), signal);
    const argv = [...rsyncOptions(this.config), '--', resolvePath(localFile), this.remoteSpec(remotePath)];
    await this.retry(() => this.run(argv, { signal }), signal);
  }

  async put(relPath: string, source: string | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const remotePath = this.abs(relPath);
    if (typeof source === 'string') {
      // rsync reads the local file by name, as root on an agent: a link there is refused, not sent.
      const st = await fs.lstat(source);
      if (st.isSymbolicLink()) throw new ValidationError(`${source} is a symbolic link: give the file itself`, { path: source });
      if (opts.size !== undefined && st.size !== opts.size)
        throw new ValidationError(`upload of ${relPath} has ${st.size} bytes, expected ${opts.size}`, { path: relPath });
      await this.upload(source, remotePath, safeRelPath(relPath), opts.signal);
      return { size: st.size };
    }
    return this.putStreamAt(remotePath, relPath, source, opts, safeRelPath(relPath));
  }

  /** Streams `source` to the absolute remote path; `what` names it in messages. */
  private async putStreamAt(remotePath: string, what: string, source: Readable, opts: PutOptions, guardRel: string): Promise<PutResult> {
    try {
      return await putStream({
        sshArgv: this.sshArgv(), spawn: this.spawn, finalPath: remotePath, relPath: what, source, size: opts.size, signal: opts.signal, guard: this.guard(guardRel),
        bwlimitKBps: this.config.bwlimitKBps, ioTimeoutSeconds: this.config.ioTimeoutSeconds,
      });
    } catch (err) {
      throw opts.signal?.aborted || err instanceof TransferInterruptedError ? err : explain(err, this);
    }
  }

  async get(relPath: string): Promise<Readable> {
    const path = this.abs(relPath);
    try {
      return await getStream({ sshArgv: this.sshArgv(), spawn: this.spawn, path, relPath, where: this.describe(), attempts: this.attempts, retryDelayMs: this.retryDelayMs, guard: this.guard(safeRelPath(relPath)) });
    } catch (err) {
      throw explain(err, this);
    }
  }

  async readSmall(relPath: string, maxBytes: number): Promise<Buffer> {
    checkCap(maxBytes);
    // The stream stops one byte past the cap (ssh is killed when it is destroyed): a planted
    // huge file costs the cap in memory, never its size.
    return readCapped(await this.get(relPath), maxBytes, relPath, this.describe());
  }

  async stat(relPath: string): Promise<{ size: number } | null> {
    const p = shQuote(this.abs(relPath));
    const out = (await this.ssh([...this.guard(safeRelPath(relPath)), 'if', 'test', '-f', p, ';', 'then', 'stat', '-c', '%s', '--', p, ';', 'else', 'echo', 'absent', ';', 'fi'])).trim();
    if (out === 'absent') return null;
    if (!/^\d+$/.test(out)) throw new ValidationError(`unexpected output of remote stat for ${relPath}: ${JSON.stringify(out.slice(0, 200))}`);
    return { size: Number(out) };
  }

  async list(prefix: string): Promise<DestinationEntry[]> {
    const rel = safeRelPrefix(prefix);
    const dir = shQuote(joinRoot(this.config.path, rel));
    const out = await this.ssh([...this.guard(rel), 'if', 'test', '-d', dir, ';', 'then', 'find', dir, '-type', 'f', '-printf', shQuote('%P\\t%s\\n'), ';', 'fi']);
    const entries: DestinationEntry[] = [];
    for (const line of out.split('\n')) {
      const m = /^([^\t]+)\t(\d+)$/.exec(line);
      if (!m) continue;
      const path = rel ? `${rel}/${m[1]}` : m[1];
      // Hidden files are rsync temporaries or partial transfers; unsafe names are not ours.
      if (isHiddenRelPath(path) || relPathProblem(path)) continue;
      entries.push({ path, size: Number(m[2]) });
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async folders(prefix: string): Promise<string[]> {
    const rel = safeRelPrefix(prefix);
    const dir = shQuote(joinRoot(this.config.path, rel));
    const out = await this.ssh([...this.guard(rel), 'if', 'test', '-d', dir, ';', 'then', 'find', dir, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-printf', shQuote('%f\\n'), ';', 'fi']);
    return out.split('\n').filter((n) => n && !isHiddenRelPath(n) && !relPathProblem(n)).sort();
  }

  async newestChange(prefix: string): Promise<number | null> {
    const rel = safeRelPrefix(prefix);
    const dir = shQuote(joinRoot(this.config.path, rel));
    // Partial transfers (rsync's hidden names) count: a set still being written is young.
    const out = await this.ssh([...this.guard(rel), 'if', 'test', '-d', dir, ';', 'then', 'find', dir, '-type', 'f', '-printf', shQuote('%T@\\n'), ';', 'fi']);
    let newest: number | null = null;
    for (const line of out.split('\n')) {
      if (!/^\d+(\.\d+)?$/.test(line)) continue;
      const ms = Math.round(Number(line) * 1000);
      if (newest === null || ms > newest) newest = ms;
    }
    return newest;
  }

  async remove(prefix: string): Promise<void> {
    const rel = safeRelPrefix(prefix);
    if (rel === '') throw new ValidationError('refusing to remove the whole destination root', { path: prefix });
    // rm removes a link given as its operand, not what it points to: only the folders above it are checked.
    await this.ssh([...this.guard(posix.dirname(rel) === '.' ? '' : posix.dirname(rel)), 'rm', '-rf', '--', shQuote(joinRoot(this.config.path, rel))]);
    for (const d of this.madeDirs) if (d === joinRoot(this.config.path, rel) || d.startsWith(`${joinRoot(this.config.path, rel)}/`)) this.madeDirs.delete(d);
  }

  async writeAtomic(relPath: string, data: Buffer | string): Promise<void> {
    // The bytes are at hand: an interrupted upload is simply sent again.
    await retryStreamedPut(() => this.put(relPath, Readable.from([Buffer.from(data)])), { attempts: this.attempts, baseDelayMs: this.retryDelayMs });
  }

  readVersioned(relPath: string, maxBytes: number): Promise<Versioned | null> {
    return readVersionedByContent(this, relPath, maxBytes);
  }

  /** Streams `data` to a hidden name beside `rel` (made for this call), returning its absolute path. */
  private async stage(rel: string, data: Buffer | string): Promise<string> {
    const final = this.abs(rel);
    const staged = `${posix.dirname(final)}/.${posix.basename(final)}.${randomBytes(6).toString('hex')}.new`;
    await retryStreamedPut(() => this.putStreamAt(staged, rel, Readable.from([Buffer.from(data)]), {}, safeRelPath(rel)), { attempts: this.attempts, baseDelayMs: this.retryDelayMs });
    return staged;
  }

  /** The staged file is hard-linked to the name on the backup host: `ln -T` fails when the name exists. */
  async createExclusive(relPath: string, data: Buffer | string): Promise<string> {
    const f = shQuote(this.abs(relPath));
    const t = shQuote(await this.stage(relPath, data));
    const out = await this.ssh([
      ...this.guard(safeRelPath(relPath)),
      'if', 'ln', '-T', '--', t, f, ';', 'then', 'r=created', ';', 'elif', 'test', '-e', f, '-o', '-L', f, ';', 'then', 'r=exists', ';', 'else', 'r=failed', ';', 'fi', ';',
      'rm', '-f', '--', t, ';', 'echo', '"$r"',
    ]);
    const r = out.trim();
    if (r === 'exists') throw new AlreadyExistsError(`${this.describe()}: ${relPath} exists`, { path: relPath });
    if (r !== 'created') throw new TandemError(`${this.describe()}: could not create ${relPath} (ln -T answered ${JSON.stringify(r.slice(0, 200))}): check the folder's owner and mode`, { path: relPath });
    return contentVersion(data);
  }

  /**
   * On the backup host, in one command, the local destination's scheme (LocalDestination.replaceIf):
   * the current file hard-linked to a guard name (`ln -T` fails while another replace holds it),
   * the guard's digest compared with the one expected, the staged file renamed over the name
   * (`mv -T`: never absent), the guard removed. A guard a minute old (ctime) is a dead replacer's.
   */
  async replaceIf(relPath: string, data: Buffer | string, expectedVersion: string): Promise<string> {
    const digest = digestOfVersion(expectedVersion);
    if (digest === null) throw new VersionMismatchError(`${this.describe()}: ${relPath} was not replaced: version ${JSON.stringify(expectedVersion.slice(0, 80))} is no sha256 digest`, { path: relPath });
    const final = this.abs(relPath);
    const f = shQuote(final);
    const g = shQuote(`${posix.dirname(final)}/.${posix.basename(final)}.replacing`);
    const n = shQuote(await this.stage(relPath, data));
    const out = await this.ssh([
      ...this.guard(safeRelPath(relPath)),
      'if', 'ln', '-T', '--', f, g, ';', 'then',
      'if', 'test', '-f', g, '-a', '!', '-L', g, '-a', `"$(sha256sum -- ${g} | cut -c1-64)"`, '=', shQuote(digest), ';', 'then',
      'if', 'mv', '-T', '--', n, f, ';', 'then', 'r=replaced', ';', 'else', 'r=failed', ';', 'fi', ';',
      'else', 'r=changed', ';', 'fi', ';', 'rm', '-f', '--', g, ';',
      'elif', 'test', '!', '-e', f, ';', 'then', 'r=absent', ';',
      'else', 'r=busy', ';', 'if', 'test', '-n', `"$(find ${g} -maxdepth 0 -cmin +1 2>/dev/null)"`, ';', 'then', 'rm', '-f', '--', g, ';', 'fi', ';', 'fi', ';',
      'rm', '-f', '--', n, ';', 'echo', '"$r"',
    ]);
    const r = out.trim();
    if (r === 'replaced') return contentVersion(data);
    if (r === 'busy') throw new ReplaceBusyError(`${this.describe()}: ${relPath} is being replaced by another writer; try again`, { path: relPath });
    if (r === 'changed' || r === 'absent')
      throw new VersionMismatchError(`${this.describe()}: ${relPath} was not replaced: ${r === 'absent' ? 'it does not exist' : 'it changed since it was read'}`, { path: relPath });
    throw new TandemError(`${this.describe()}: could not replace ${relPath} (answered ${JSON.stringify(r.slice(0, 200))}): check the folder's owner and mode`, { path: relPath });
  }

  async checkWritable(): Promise<void> {
    const root = this.config.path;
    let out: string;
    try {
      out = await this.ssh(['if', 'test', '!', '-d', shQuote(root), ';', 'then', 'echo', 'missing', ';', 'elif', 'test', '!', '-w', shQuote(root), ';', 'then', 'echo', 'readonly', ';', 'else', 'echo', 'ok', ';', 'fi']);
    } catch (err) {
      throw new PreconditionError(`cannot reach ${this.describe()}: ${errorMessage(err)}`, { destination: this.describe() }, { cause: err });
    }
    if (out.trim() === 'missing') throw new PreconditionError(`folder ${root} does not exist on ${this.config.host}: create it (mkdir -p ${root}) and make it writable by ${this.config.user}`);
    if (out.trim() === 'readonly') throw new PreconditionError(`folder ${root} on ${this.config.host} is not writable by ${this.config.user}: fix its owner or mode`);
    const probe = joinRoot(root, `.tandem-probe-${randomBytes(6).toString('hex')}`);
    try {
      // The probe goes as archives do, streamed with cat, sync and mv: those are what must work.
      await retryStreamedPut(() => this.putStreamAt(probe, 'the write probe', Readable.from([Buffer.from('tandem write probe\n')]), {}, ''), { attempts: this.attempts, baseDelayMs: this.retryDelayMs });
    } catch (err) {
      throw new PreconditionError(`cannot write a file to ${this.describe()}: ${errorMessage(err)} (the backup host needs GNU coreutils: cat, tail, truncate, sync, mv)`, {}, { cause: err });
    } finally {
      await this.ssh(['rm', '-f', '--', shQuote(probe)]).catch(() => undefined);
    }
  }
}

/** True for a failure worth another attempt: network, I/O, timeouts, ssh; not a missing source file. */
function isTransient(err: unknown): boolean {
  return err instanceof CommandError && (err.exitCode === null || RETRYABLE.has(err.exitCode)) && !isMissingFile(err);
}

/** True if rsync failed because the source file does not exist (no point retrying). */
function isMissingFile(err: unknown): boolean {
  return err instanceof CommandError && err.exitCode === 23 && /No such file or directory/.test(err.stderrTail);
}

/** Turns a ssh failure into an error that says what to fix; other errors pass through. */
function explain(err: unknown, d: RsyncDestination): unknown {
  if (!(err instanceof CommandError)) return err;
  if (err.exitCode === EXIT_LINK) return linkRefusal(err, d.describe());
  const s = err.stderrTail;
  if (err.exitCode === EXIT_PUT_FAILED) {
    const why = s.trim().split('\n').slice(-2).join(' | ') || 'no reason given';
    return new PreconditionError(`${d.describe()}: the backup host could not store the file (${why}): free space there, or fix the folder's owner or mode`, { destination: d.describe() }, { cause: err });
  }
  if (err.exitCode !== 255) return err;
  const hint = /Host key verification failed|No .*host key is known/i.test(s)
    ? 'the host key is unknown or changed: add it to knownHostsFile (ssh-keyscan -p PORT HOST) after checking its fingerprint'
    : /Permission denied/i.test(s)
      ? 'ssh login refused: add the public key of identityFile to ~/.ssh/authorized_keys of the remote user'
      : /Connection refused|Could not resolve|timed out|No route/i.test(s)
        ? 'the ssh server is not reachable: check host, port and firewalls'
        : 'ssh failed';
  return new PreconditionError(`${d.describe()}: ${hint} (${s.trim().split('\n').slice(-2).join(' | ')})`, { destination: d.describe() }, { cause: err });
}
