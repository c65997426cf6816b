/** The settings schema of every production role, keyed by the role's name in agent.yaml. */
export const roleSettingsSchemas = {};
