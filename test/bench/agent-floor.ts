/**
 * `npm run bench -- agent-floor [--seconds N | --quick] [--runs N]`: how close an idle tandem-agent is to
 * what Node itself costs. The resident memory (VmRSS) after N seconds idle (default 60; --quick:
 * 10) of four processes, each on its own: (a) `node -e` that only waits; (b) Node with the
 * agent's minimal imports, gRPC (grpc-js, the generated protocol) and its config layer, serving
 * an empty gRPC server on 127.0.0.1:0; (c) the agent with the rehearsal role only; (d) the agent
 * with the cassandra, elasticsearch and files roles configured against services that are not
 * there (each role's health probe fails, which is what an idle agent does when nothing answers).
 * Agents listen on port 0 in a scratch folder with mutual TLS; no sandbox. With --runs N (default
 * 1) each process is measured N times, rotated, and the median printed with the range: when V8's
 * idle collection runs within the wait varies by 10 MB on a busy machine. Asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AGENT_NODE_FLAGS, agentEnv } from '../helpers/agent-process';
import { AGENT_MAIN, makeFleet, removeFleet } from '../helpers/fleet';

const DIST = join(__dirname, '..', '..');
/** The production agent, without the rehearsal role's test code. */
const PRODUCTION_AGENT = join(DIST, 'agent', 'main.js');

/** VmRSS of a live process, bytes. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** One process to measure: its argv after node, and the line it prints once ready. */
interface Case {
  name: string;
  argv: string[];
  ready: RegExp;
}

/** Node with gRPC and the agent's config layer loaded, an empty server bound: the floor an agent cannot go under. */
const MINIMAL_IMPORTS = `
const grpc = require('@grpc/grpc-js');
require(${JSON.stringify(join(DIST, 'shared', 'generated', 'tandem', 'v2', 'agent.js'))});
const { loadAgentConfig } = require(${JSON.stringify(join(DIST, 'agent', 'config.js'))});
loadAgentConfig(process.argv[1]);
const server = new grpc.Server();
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log('ready on ' + port);
});
setInterval(() => undefined, 1 << 30);
`;

/** Starts one case, waits until it is ready, idles `seconds`, reads its RSS and stops it. */
async function measure(c: Case, seconds: number): Promise<{ name: string; rss: number; note: string }> {
  const child: ChildProcess = spawn(process.execPath, c.argv, { env: { ...process.env, ...agentEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const collect = (d: Buffer) => (log += d.toString());
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!c.ready.test(log)) {
      if (child.exitCode !== null) throw new Error(`${c.name} exited with ${child.exitCode} before it was ready:\n${log.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${c.name} was not ready within 60 s:\n${log.slice(-2000)}`);
      await sleep(100);
    }
    await sleep(seconds * 1000);
    if (child.exitCode !== null) throw new Error(`${c.name} exited while idle:\n${log.slice(-2000)}`);
    const rss = await rssOf(child.pid!);
    // What each role's probe said while idle, for (d): the agent stays up without its services.
    const failing = [...new Set([...log.matchAll(/"service":"(?:tandem\.)?([\w.]+)","status":"NOT_SERVING"/g)].map((m) => m[1]))];
    return { name: c.name, rss, note: failing.length ? `probes failing: ${failing.join(', ')}` : '' };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** The RSS of each case after `seconds` idle, `runs` times each (all cases once per round). */
export async function benchAgentFloor(seconds: number, runs = 1): Promise<{ name: string; rss: number[]; note: string }[]> {
  const fleet = await makeFleet([
    { node: 'floor-rehearsal', roles: { rehearsal: {} } },
    {
      node: 'floor-all',
      roles: {
        // Port 1 on loopback: nothing listens, so every probe fails fast and the roles stay idle.
        cassandra: { cql: { host: '127.0.0.1', port: 1 }, jmx: { host: '127.0.0.1', port: 1 }, dataDir: join(DIST, 'nonexistent') },
        elasticsearch: { url: 'http://127.0.0.1:1', repository: 'tandem' },
        files: { store: 'localfs', location: join(DIST, 'nonexistent') },
      },
    },
  ]);
  const [rehearsal, all] = fleet.agents;
  const cases: Case[] = [
    { name: '(a) node -e, nothing loaded', argv: ['-e', 'console.log("ready"); setInterval(() => undefined, 1 << 30)'], ready: /ready/ },
    { name: '(b) node + grpc-js, the protocol and the agent config, empty gRPC server', argv: ['-e', MINIMAL_IMPORTS, all.config], ready: /ready on \d+/ },
    { name: '(c) tandem-agent, rehearsal role only', argv: [...AGENT_NODE_FLAGS, AGENT_MAIN, '--config', rehearsal.config], ready: /agent ready/ },
    { name: '(d) tandem-agent, cassandra + elasticsearch + files roles', argv: [...AGENT_NODE_FLAGS, PRODUCTION_AGENT, '--config', all.config], ready: /agent ready/ },
  ];
  try {
    const out = cases.map((c) => ({ name: c.name, rss: [] as number[], note: '' }));
    // One at a time: the machine is shared, and each figure is a process alone.
    for (let round = 0; round < runs; round++) {
      for (const [i, c] of cases.entries()) {
        const r = await measure(c, seconds);
        out[i].rss.push(r.rss);
        out[i].note ||= r.note;
      }
    }
    return out;
  } finally {
    await removeFleet(fleet);
  }
}

/** The middle value (the lower of the two middle ones for an even count). */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** `npm run bench -- agent-floor …`. */
export async function agentFloorMain(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string', default: '60' }, quick: { type: 'boolean', default: false }, runs: { type: 'string', default: '1' } } });
  const seconds = values.quick ? 10 : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600) throw new Error(`--seconds ${values.seconds}: give 1 to 3600`);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs ${values.runs}: give 1 to 20`);
  const mb = (x: number) => `${(x / 2 ** 20).toFixed(1)} MB`;
  console.log(`node ${process.version}, MALLOC_ARENA_MAX=${agentEnv().MALLOC_ARENA_MAX}${AGENT_NODE_FLAGS.length ? `, agents with ${AGENT_NODE_FLAGS.join(' ')}` : ''}; RSS after ${seconds} s idle, median of ${runs}`);
  const rows = await benchAgentFloor(seconds, runs);
  const floor = median(rows[1].rss);
  console.log('| process | RSS | range | above (b) | note |\n|---|---|---|---|---|');
  for (const r of rows) {
    const m = median(r.rss);
    const range = `${mb(Math.min(...r.rss))} – ${mb(Math.max(...r.rss))}`;
    console.log(`| ${r.name} | ${mb(m)} | ${range} | ${r === rows[0] ? '' : `${m >= floor ? '+' : ''}${mb(m - floor)}`} | ${r.note} |`);
  }
}
