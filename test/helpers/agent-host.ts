/**
 * Many tandem agents in one process, for the scale bench and the scale test: each agent has its
 * own configuration, state folder, certificate and gRPC port (real mutual TLS), and plays the
 * rehearsal role. Started by test/helpers/many-agents.ts with an IPC channel:
 *   argv: the agents' configuration files;
 *   → {type:'ready', agents:[{node, port}]} once every agent listens;
 *   ← {type:'arrivals'} → {type:'arrivals', arrivals, rssBytes}: when each Prepare and Commit
 *     reached its handler and was answered (wall clock: every host runs on the same machine);
 *   ← {type:'stop'}: stops every agent and exits.
 */
import type * as grpc from '@grpc/grpc-js';
import { loadAgentConfig } from '../../agent/config';
import { PRODUCTION_ROLES, createRoles } from '../../agent/roles/registry';
import { rolePlugin } from '../../agent/roles/plugin';
import { serveAgent, type RunningAgent } from '../../agent/serve';
import type { AgentServer } from '../../shared/generated/tandem/v2/agent';
import { systemExec } from '../../shared/exec';
import { createLogger } from '../../shared/log';
import { silenceThirdPartyNotices } from '../../shared/third-party-warnings';
import { rehearsalRole, rehearsalSettings } from './rehearsal-role';

/** When one agent received one Prepare or Commit and when it answered (ms since the epoch). */
export interface Arrival {
  node: string;
  method: 'prepare' | 'commit';
  backupId: string;
  arrivedAt: number;
  answeredAt: number;
}

/** Messages a host sends to the harness. */
export type HostMessage =
  | { type: 'ready'; agents: { node: string; port: number }[] }
  | { type: 'arrivals'; arrivals: Arrival[]; rssBytes: number }
  | { type: 'failed'; error: string };

const PLUGINS = [...PRODUCTION_ROLES, rolePlugin({ name: 'rehearsal', settings: rehearsalSettings, create: rehearsalRole })];

/** The service with its Prepare and Commit handlers timed into `arrivals`. */
function timed(node: string, arrivals: Arrival[]) {
  return (service: AgentServer): AgentServer => {
    const wrap = <Req extends { backupId?: string; plan?: { backupId: string } }, Res>(method: Arrival['method'], handler: grpc.handleUnaryCall<Req, Res>): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        const arrivedAt = Date.now();
        const backupId = call.request.backupId ?? call.request.plan?.backupId ?? '';
        // The agents of this process share one event loop, which agents on hosts of their own do
        // not: the handler runs once the calls already read have been received, so that one
        // agent's Prepare or Commit work does not delay the next one's arrival. The cuts, still
        // taken one after another here, are measured apart (the manifest's snapshot spread).
        setImmediate(() => handler(call, (err, res, ...rest) => {
          arrivals.push({ node, method, backupId, arrivedAt, answeredAt: Date.now() });
          callback(err, res, ...rest);
        }));
      };
    return { ...service, prepare: wrap('prepare', service.prepare), commit: wrap('commit', service.commit) };
  };
}

async function main(files: string[]): Promise<void> {
  silenceThirdPartyNotices();
  const arrivals: Arrival[] = [];
  const running: RunningAgent[] = [];
  const ready: { node: string; port: number }[] = [];
  // Started one after another: each binds its own port and reads its own certificate.
  for (const file of files) {
    const config = loadAgentConfig(file, PLUGINS);
    const log = createLogger('tandem-agent', { node: config.node });
    const agent = await serveAgent(config, createRoles(PLUGINS, config.roles, systemExec, { stateDir: config.stateDir }), log, { wrapService: timed(config.node, arrivals) });
    running.push(agent);
    ready.push({ node: config.node, port: agent.port });
  }
  const send = (m: HostMessage) => process.send!(m);
  send({ type: 'ready', agents: ready });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'arrivals') send({ type: 'arrivals', arrivals: arrivals.splice(0), rssBytes: process.memoryUsage().rss });
    if (m.type === 'stop') void Promise.all(running.map((a) => a.stop(2000))).then(() => process.exit(0));
  });
  // The harness gone (killed, crashed): the host goes too.
  process.on('disconnect', () => process.exit(0));
}

main(process.argv.slice(2)).catch((err) => {
  process.send?.({ type: 'failed', error: (err as Error).stack ?? String(err) } satisfies HostMessage);
  process.exit(1);
});
