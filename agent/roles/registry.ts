/** Builds the role plug-ins named in the agent's configuration. */
import { ConfigError } from '../../shared/errors';
import type { AgentConfig } from '../config';
import { rehearsalRole } from './rehearsal';
import type { Role } from './role';

/** Instantiates the configured roles, in a fixed order. */
export function createRoles(config: AgentConfig): Role[] {
  const roles: Role[] = [];
  if (config.roles.rehearsal) {
    if (process.env.TANDEM_ENABLE_REHEARSAL_ROLE !== '1') {
      throw new ConfigError('the rehearsal role exists for tandem\'s own tests; set TANDEM_ENABLE_REHEARSAL_ROLE=1 to use it');
    }
    roles.push(rehearsalRole(config.roles.rehearsal));
  }
  return roles;
}
