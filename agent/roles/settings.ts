import type { z } from 'zod';
import type { RoleName } from '../../shared/contract';
import { cassandraSettings } from './cassandra/config';
import { esSettings } from './elasticsearch/config';
import { filesSettings } from './files/config';

/** The settings schema of every production role, keyed by the role's name in agent.yaml. */
export const roleSettingsSchemas = {
  cassandra: cassandraSettings.optional(),
  elasticsearch: esSettings.optional(),
  files: filesSettings.optional(),
} satisfies Record<RoleName, z.ZodType>;
