/**
 * The agent's configuration file (YAML), compiled once into a frozen, validated object.
 * Default location: /etc/tandem/agent.yaml.
 */
import { z } from 'zod';
import { absolutePath, hostPort, nodeName, tlsFiles } from '../shared/config/common';
import { CAPTURING_ROLES, captureNeedsTls } from '../shared/config/capture';
import { loadYamlConfig } from '../shared/config/load';
import { destinationCredentialsSchema } from './destination-credentials';
import { metricsSettings } from './metrics';
import type { RolePlugin } from './roles/plugin';
import { PRODUCTION_ROLES } from './roles/registry';

/** The agent configuration schema for the given role plug-ins (production's by default). */
export function agentConfigSchema(plugins: readonly RolePlugin[] = PRODUCTION_ROLES) {
  return z.strictObject({
    /** This node's name in the fleet; must equal the CN of the agent's certificate. */
    node: nodeName,
    /** Address the gRPC server listens on, host:port. */
    listen: hostPort,
    /** Mutual-TLS files; required unless the agent is started with --insecure (loopback only). */
    tls: tlsFiles
      .extend({
        /**
         * The only caller accepted: the CN or a DNS name of the coordinator's certificate, which
         * must also be issued for clientAuth (`tandem certs issue --kind coordinator --name NAME`).
         */
        coordinatorName: nodeName.default('coordinator'),
      })
      .optional(),
    /** Folder of the agent's persistent state (state.json, working folders); default /var/lib/tandem-agent. */
    stateDir: absolutePath.default('/var/lib/tandem-agent'),
    /** The gRPC health service's probes of each role's dependency (docs/health.md). */
    health: z
      .strictObject({
        /** Seconds between two probes of each role's dependency; default 10. */
        intervalSeconds: z.number().min(1).max(3600).default(10),
        /** Seconds one probe may take before its role counts as not serving; default 5. */
        timeoutSeconds: z.number().min(0.1).max(600).default(5),
      })
      .prefault({}),
    /**
     * This agent's own keys for the destination (the coordinator never sends any); default: the
     * AWS SDK's default chain (AWS_* variables, instance role). See docs/destination.md.
     */
    destinationCredentials: destinationCredentialsSchema.prefault({}),
    /** Prometheus /metrics on its own port, loopback only; off when absent. */
    metrics: metricsSettings.optional(),
    /**
     * Other folders the agent writes: a local or NFS destination, restore targets (--files-target,
     * a drill's --scratch-dir outside /var/tmp). Only `--print-systemd-paths` reads it, to open them
     * in the systemd unit, which keeps everything else read-only.
     */
    writablePaths: z.array(absolutePath).max(64).default([]),
    /** The roles this host plays, each with its settings. */
    roles: z
      .strictObject(Object.fromEntries(plugins.map((p) => [p.name, p.settings.optional()])) as Record<string, z.ZodOptional<z.ZodType>>)
      .refine((r) => Object.values(r).some((v) => v !== undefined), 'at least one role must be configured'),
  })
    .refine((c) => !c.metrics?.tls || c.tls, { message: 'metrics.tls uses the agent\'s tls files: set tls', path: ['metrics', 'tls'] })
    // The captures' lines are signed with the agent's TLS key: a reader believes nothing else at the destination.
    .superRefine((c, ctx) => {
      if (c.tls) return;
      for (const role of CAPTURING_ROLES) {
        if ((c.roles[role] as { capture?: { enabled?: boolean } } | undefined)?.capture?.enabled) ctx.addIssue({ code: 'custom', message: captureNeedsTls(role), path: ['roles', role, 'capture'] });
      }
    });
}

/** The validated agent configuration. */
export type AgentConfig = z.output<ReturnType<typeof agentConfigSchema>>;

/** Loads and validates the agent's configuration file. */
export function loadAgentConfig(file: string, plugins: readonly RolePlugin[] = PRODUCTION_ROLES): AgentConfig {
  return loadYamlConfig(file, agentConfigSchema(plugins));
}
