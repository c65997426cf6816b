/** Builds the role plug-ins named in the agent's configuration. */
import { ConfigError } from '../../shared/errors';
import { systemExec, type Exec } from '../../shared/exec';
import type { AgentConfig } from '../config';
import { cassandraRole } from './cassandra/role';
import { elasticsearchRole } from './elasticsearch/role';
import { filesRole } from './files/role';
import { rehearsalRole } from './rehearsal';
import type { Role } from './role';

/** Instantiates the configured roles, in a fixed order; those that run programs run them through `exec`. */
export function createRoles(config: AgentConfig, exec: Exec = systemExec): Role[] {
  const roles: Role[] = [];
  if (config.roles.cassandra) roles.push(cassandraRole(config.roles.cassandra, exec));
  if (config.roles.elasticsearch) roles.push(elasticsearchRole(config.roles.elasticsearch));
  if (config.roles.files) roles.push(filesRole(config.roles.files));
  if (config.roles.rehearsal) {
    if (process.env.TANDEM_ENABLE_REHEARSAL_ROLE !== '1') {
      throw new ConfigError('the rehearsal role exists for tandem\'s own tests; set TANDEM_ENABLE_REHEARSAL_ROLE=1 to use it');
    }
    roles.push(rehearsalRole(config.roles.rehearsal));
  }
  return roles;
}
