/**
 * tandem-agent as the protocol's tests run it: the production roles plus the rehearsal role,
 * which exercises the two-phase protocol without a database. Production agents never load it.
 */
import { runAgent } from '../../agent/daemon';
import { PRODUCTION_ROLES } from '../../agent/roles/registry';
import { rolePlugin } from '../../agent/roles/plugin';
import { rehearsalRole, rehearsalSettings } from './rehearsal-role';

runAgent([...PRODUCTION_ROLES, rolePlugin({ name: 'rehearsal', settings: rehearsalSettings, create: rehearsalRole })]);
