/**
 * When a process the fault suite stopped (SIGSTOP) and resumed is back: once it answers, each in
 * its own way (an agent's Status call, nodetool, Elasticsearch's health), never after a fixed sleep.
 */
import { runCommand } from '../../shared/exec';
import { handles } from '../helpers/fleet';
import { sleep, type FaultFleet } from './sandbox-fleet';

/** Waits until `probe` succeeds, trying every 200 ms for up to `ms`: a resumed process is taken as back once it answers. */
async function untilAnswers(what: string, probe: () => Promise<unknown>, ms = 60_000): Promise<void> {
  let last: unknown;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) {
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`${what} did not answer within ${ms / 1000} s of SIGCONT: ${String(last)}`);
}

/** The resumed agent answers a Status call. */
export const agentAnswers = (node: string) => (f: FaultFleet) =>
  untilAnswers(`${node}'s agent`, async () => {
    const [h] = handles(f.fleet, [node]);
    try {
      // An id it never saw: NOT_FOUND is an answer.
      await h.status('fault-probe', 5_000).catch((err: Error) => {
        if (!/NOT_FOUND/.test(err.message)) throw err;
      });
    } finally {
      h.close();
    }
  });

/** The resumed Cassandra node answers nodetool. */
export const cassandraAnswers = (name: string) => (f: FaultFleet) =>
  untilAnswers(`Cassandra ${name}`, async () => {
    const n = f.env.cassandra.nodes.find((x) => x.name === name)!;
    const r = await runCommand([n.nodetool, 'info'], { timeoutMs: 30_000 });
    if (r.exitCode !== 0) throw new Error(r.stderr.trim().slice(-200));
  });

/** The resumed Elasticsearch answers its health endpoint. */
export const elasticsearchAnswers = (f: FaultFleet) =>
  untilAnswers('Elasticsearch', async () => {
    const r = await fetch(`${f.env.elasticsearch.url}/_cluster/health`, { signal: AbortSignal.timeout(5_000) });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
  });
