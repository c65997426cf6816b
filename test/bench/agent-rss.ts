/**
 * `npm run bench -- agent-rss [--backups N]`: the resident memory of a real tandem-agent process
 * (its own process, mutual TLS, the files role on a local store and the rehearsal role), idle
 * after its start and after N backups (default 10) through the real CLI. Needs no sandbox;
 * asserts nothing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { makeFleet, removeFleet, runCli, startFleet } from '../helpers/fleet';
import { AGENT_NODE_FLAGS } from '../helpers/agent-process';

/** VmRSS and VmHWM of a live process, bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Idle RSS after start and after `backups` backups, for each kind of agent. */
export async function benchAgentRss(backups: number): Promise<{ agent: string; idle: number; afterBackups: number; peak: number }[]> {
  const fleet = await makeFleet([{ node: 'rss1', roles: { rehearsal: {} } }, { node: 'rss2', roles: { files: { store: 'localfs', location: '/nonexistent' } } }]);
  // The files role reads a store folder: a few attachments in TheHive's layout.
  const store = join(fleet.dir, 'store');
  await mkdir(join(store, 'aa', 'bb'), { recursive: true });
  for (let i = 0; i < 20; i++) await writeFile(join(store, 'aa', 'bb', `attachment-${i}`), `attachment ${i}\n`.repeat(100));
  const files = fleet.agents[1];
  files.roles = { files: { store: 'localfs', location: store, restoreTargets: [store] } };
  const config = JSON.parse(await readFile(files.config, 'utf8')) as Record<string, unknown>;
  await writeFile(files.config, JSON.stringify({ ...config, roles: files.roles }));
  const fleetConfig = JSON.parse(await readFile(fleet.fleetFile, 'utf8')) as { agents: { roles: string[] }[] };
  fleetConfig.agents[1].roles = ['files'];
  await writeFile(fleet.fleetFile, JSON.stringify(fleetConfig));
  await startFleet(fleet);
  try {
    // Settled: start-up garbage collected as the process would be after a while.
    await sleep(3000);
    const idle = await Promise.all(fleet.agents.map((a) => memoryOf(a.process!.pid!)));
    for (let i = 0; i < backups; i++) {
      const r = await runCli(['backup', '--config', fleet.fleetFile, '--json']);
      if (r.code !== 0) throw new Error(`backup ${i + 1} failed: ${r.stdout}${r.stderr}`);
    }
    await sleep(3000);
    const after = await Promise.all(fleet.agents.map((a) => memoryOf(a.process!.pid!)));
    return fleet.agents.map((a, i) => ({ agent: Object.keys(a.roles).join(', ') + ' role', idle: idle[i].rss, afterBackups: after[i].rss, peak: after[i].peak }));
  } finally {
    await removeFleet(fleet);
  }
}

/** `npm run bench -- agent-rss …`. */
export async function agentRssMain(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { backups: { type: 'string', default: '10' } } });
  const n = Number(values.backups);
  const mb = (x: number) => `${(x / 2 ** 20).toFixed(1)} MB`;
  if (AGENT_NODE_FLAGS.length) console.log(`agents run with node ${AGENT_NODE_FLAGS.join(' ')} (TANDEM_AGENT_NODE_FLAGS)`);
  console.log(`| agent | idle after start | idle after ${n} backups | peak (VmHWM) |\n|---|---|---|---|`);
  for (const r of await benchAgentRss(n)) console.log(`| ${r.agent} | ${mb(r.idle)} | ${mb(r.afterBackups)} | ${mb(r.peak)} |`);
}
