/**
 * nodetool, run through the one command runner with argv arrays, and parsers for what it prints.
 * Parsers are pure so they are unit-tested on real output.
 */
import { ValidationError } from '../../../shared/errors';
import { runCommand, type CommandRunner } from '../../../shared/exec';

/** One node of `nodetool status`. */
export interface RingNode {
  state: string;
  address: string;
  datacenter: string;
  hostId: string;
}

/**
 * Parses `nodetool status` into nodes with their two-letter state (UN, DN, UJ, ?N...) and
 * datacenter. Status `?` is a node in the ring that gossip lists neither up nor down yet (as
 * just after a restart): it is kept, so that a check for UN everywhere sees it.
 */
export function parseStatus(text: string): RingNode[] {
  const nodes: RingNode[] = [];
  let dc = '';
  for (const line of text.split('\n')) {
    const d = /^Datacenter:\s*(\S+)/.exec(line);
    if (d) dc = d[1];
    const m = /^([UD?][NLJM])\s+(\S+)\s.*?\s([0-9a-f]{8}-[0-9a-f-]{27})\s/.exec(line);
    if (m) nodes.push({ state: m[1], address: m[2], datacenter: dc, hostId: m[3] });
  }
  return nodes;
}

/** Parses the "Schema versions" block of `nodetool describecluster`: version → addresses. */
export function parseSchemaVersions(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const block = text.split(/Schema versions:\s*\n/)[1] ?? '';
  for (const line of block.split('\n')) {
    const m = /^\s+([0-9a-f-]{36}|UNREACHABLE):\s*\[([^\]]*)\]/.exec(line);
    if (m) out[m[1]] = m[2].split(',').map((s) => s.trim()).filter(Boolean);
    else if (line.trim() && !line.startsWith(' ')) break;
  }
  return out;
}

/** Parses `nodetool listsnapshots` into the distinct snapshot tags per keyspace. */
export function parseSnapshotTags(text: string): { tag: string; keyspace: string }[] {
  const seen = new Set<string>();
  const out: { tag: string; keyspace: string }[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (/^Snapshot name\s/.test(line)) {
      inTable = true;
      continue;
    }
    // The table ends at a blank line; the "Total TrueDiskSpaceUsed: 0 bytes" after it is no snapshot.
    if (inTable && !line.trim()) break;
    const m = inTable ? /^(\S+)\s+(\S+)\s+\S+\s/.exec(line) : null;
    if (m && !seen.has(`${m[1]}/${m[2]}`)) {
      seen.add(`${m[1]}/${m[2]}`);
      out.push({ tag: m[1], keyspace: m[2] });
    }
  }
  return out;
}

/** Parses `nodetool version`: the ReleaseVersion line, wherever it is (a JVM may print warnings first). */
export function parseVersion(text: string): string {
  const m = /^ReleaseVersion:\s*(\S+)/m.exec(text);
  if (!m) throw new ValidationError(`nodetool version printed no ReleaseVersion line: ${JSON.stringify(text.slice(0, 200))}`);
  return m[1];
}

/** The nodetool of one host. */
export class Nodetool {
  constructor(
    private readonly program: string,
    private readonly run: CommandRunner = runCommand,
  ) {}

  private async call(args: string[], timeoutMs = 120_000, signal?: AbortSignal): Promise<string> {
    return (await this.run([this.program, ...args], { timeoutMs, signal })).stdout;
  }

  /** The ring as this node sees it. */
  async status(): Promise<RingNode[]> {
    return parseStatus(await this.call(['status']));
  }
  /** Schema versions across the cluster. */
  async schemaVersions(): Promise<Record<string, string[]>> {
    return parseSchemaVersions(await this.call(['describecluster']));
  }
  /** Cassandra's release version. */
  async version(): Promise<string> {
    return parseVersion(await this.call(['version']));
  }
  /** Snapshot tags present on this node. */
  async snapshotTags(): Promise<{ tag: string; keyspace: string }[]> {
    return parseSnapshotTags(await this.call(['listsnapshots']));
  }
  /** The classic, slow snapshot command (a JVM start each time); the benchmark's baseline. */
  async snapshot(tag: string, keyspace: string): Promise<void> {
    await this.call(['snapshot', '-t', tag, '--', keyspace]);
  }
  /** Removes one snapshot tag of one keyspace; no error when it is absent. */
  async clearSnapshot(tag: string, keyspace: string): Promise<void> {
    await this.call(['clearsnapshot', '-t', tag, '--', keyspace]);
  }
  /** `nodetool repair <keyspace>`, as the cluster procedure prescribes before a backup. */
  async repair(keyspace: string, signal?: AbortSignal): Promise<void> {
    await this.call(['repair', '--', keyspace], 6 * 3_600_000, signal);
  }
}
