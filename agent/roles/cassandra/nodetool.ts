/**
 * nodetool, run through the one command runner with argv arrays, and parsers for what it prints.
 * Parsers are pure so they are unit-tested on real output.
 */
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

/** The nodetool of one host: the ring, for a role without its helper JVM, and the repair (everything else goes through the helper JVM). */
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
  /** `nodetool repair <keyspace>`, as the cluster procedure prescribes before a backup. */
  async repair(keyspace: string, signal?: AbortSignal): Promise<void> {
    await this.call(['repair', '--', keyspace], 6 * 3_600_000, signal);
  }
}
