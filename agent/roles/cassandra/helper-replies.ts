/** Parsers of the helper JVM's replies (java/CassandraHelper.java), pure so they are unit-tested. */
import { ValidationError } from '../../../shared/errors';
import type { RingNode } from './nodetool';

const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));

/** RING: "<state>,<address>,<datacenter>,<host-id>" per node, as `nodetool status` would list them. */
export function parseRing(payload: string): RingNode[] {
  return payload.split(' ').filter(Boolean).map((entry) => {
    const m = /^([UD?][NLJM]),([0-9A-Fa-f.:]+),([^,]*),([0-9a-f-]{36}|-)$/.exec(entry);
    if (!m) throw new ValidationError(`JMX helper: unexpected ring entry ${JSON.stringify(entry.slice(0, 200))}`);
    return { state: m[1], address: m[2], datacenter: decode(m[3]), hostId: m[4] };
  });
}

/** SCHEMA: "<version>=<address>|<address>" per schema version. */
export function parseSchemaReply(payload: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const entry of payload.split(' ').filter(Boolean)) {
    const m = /^([0-9a-f-]{36}|UNREACHABLE)=(.*)$/.exec(entry);
    if (!m) throw new ValidationError(`JMX helper: unexpected schema entry ${JSON.stringify(entry.slice(0, 200))}`);
    out[m[1]] = m[2].split('|').filter(Boolean);
  }
  return out;
}

/** LISTSNAPSHOTS: "<tag>,<keyspace>" per snapshot and keyspace. */
export function parseSnapshotList(payload: string): { tag: string; keyspace: string }[] {
  return payload.split(' ').filter(Boolean).map((entry) => {
    const i = entry.lastIndexOf(',');
    if (i <= 0) throw new ValidationError(`JMX helper: unexpected snapshot entry ${JSON.stringify(entry.slice(0, 200))}`);
    return { tag: decode(entry.slice(0, i)), keyspace: entry.slice(i + 1) };
  });
}

/** SNAPSHOT and FLUSH: the call's start and end instants (ms). */
export function parseSpan(payload: string): { startedAt: number; endedAt: number } {
  const m = /^(\d+) (\d+)$/.exec(payload);
  if (!m) throw new ValidationError(`JMX helper: unexpected timing ${JSON.stringify(payload.slice(0, 200))}`);
  return { startedAt: Number(m[1]), endedAt: Number(m[2]) };
}
