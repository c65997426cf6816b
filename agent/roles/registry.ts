/** The roles a production agent can play, in the order they run. */
import { cassandraSettings } from './cassandra/config';
import { systemExec, type Exec } from '../../shared/exec';
import { cassandraRole } from './cassandra/role';
import { esSettings } from './elasticsearch/config';
import { elasticsearchRole } from './elasticsearch/role';
import { filesSettings } from './files/config';
import { filesRole } from './files/role';
import { rolePlugin, type RoleHost, type RolePlugin } from './plugin';
import type { Role } from './role';

/** cassandra, elasticsearch, files. */
export const PRODUCTION_ROLES: readonly RolePlugin[] = [
  rolePlugin({ name: 'cassandra', settings: cassandraSettings, create: cassandraRole }),
  rolePlugin({ name: 'elasticsearch', settings: esSettings, create: elasticsearchRole }),
  rolePlugin({ name: 'files', settings: filesSettings, create: filesRole }),
];

/** Instantiates the configured roles, in the plug-ins' order. */
export function createRoles(plugins: readonly RolePlugin[], configured: Readonly<Record<string, unknown>>, exec: Exec = systemExec, host: RoleHost = { stateDir: null }): Role[] {
  return plugins.filter((p) => configured[p.name] !== undefined).map((p) => p.create(configured[p.name], exec, host));
}
