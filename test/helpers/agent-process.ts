/** How tests, benches and the sandbox start an agent process: as the shipped unit does, plus the flags asked for. */

/**
 * Node's own flags for the agents a bench, a test fleet or the sandbox starts
 * (`TANDEM_AGENT_NODE_FLAGS="--lite-mode"`): V8 flags that NODE_OPTIONS refuses, as an operator
 * would put them on the unit's ExecStart line.
 */
export const AGENT_NODE_FLAGS = (process.env.TANDEM_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean).map((f) => {
  if (!/^--[a-z0-9-]+(=[\w.-]+)?$/.test(f)) throw new Error(`TANDEM_AGENT_NODE_FLAGS: ${JSON.stringify(f)} is not a flag of the form --name or --name=value`);
  return f;
});

/** The variables the shipped unit sets for the agent (systemd/tandem-agent.service); one set in this process wins. */
export function agentEnv(): Record<string, string> {
  return { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' };
}
