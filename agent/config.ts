/**
 * The agent's configuration file (YAML), compiled once into a frozen, validated object.
 * Default location: /etc/tandem/agent.yaml.
 */
import { z } from 'zod';
import { absolutePath, hostPort, nodeName, tlsFiles } from '../shared/config/common';
import { loadYamlConfig } from '../shared/config/load';
import { rehearsalSettings } from './roles/rehearsal';
import { roleSettingsSchemas } from './roles/settings';

/** The agent configuration schema. */
export const agentConfigSchema = z.strictObject({
  /** This node's name in the fleet; must equal the CN of the agent's certificate. */
  node: nodeName,
  /** Address the gRPC server listens on, host:port. */
  listen: hostPort,
  /** Mutual-TLS files; required unless the agent is started with --insecure (loopback only). */
  tls: tlsFiles.optional(),
  /** Folder of the agent's persistent state (state.json, working folders); default /var/lib/tandem-agent. */
  stateDir: absolutePath.default('/var/lib/tandem-agent'),
  /** The roles this host plays, each with its settings. */
  roles: z
    .strictObject({
      ...roleSettingsSchemas,
      rehearsal: rehearsalSettings.optional(),
    })
    .refine((r) => Object.values(r).some((v) => v !== undefined), 'at least one role must be configured'),
});

/** The validated agent configuration. */
export type AgentConfig = z.output<typeof agentConfigSchema>;

/** Loads and validates the agent's configuration file. */
export function loadAgentConfig(file: string): AgentConfig {
  return loadYamlConfig(file, agentConfigSchema);
}
