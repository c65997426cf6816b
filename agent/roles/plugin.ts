/**
 * A role plug-in: the role's name in agent.yaml, the schema of its settings, and how to build
 * it. The agent's configuration and its roles are both derived from a list of plug-ins, so a
 * role slots in without touching the configuration code.
 */
import type { z } from 'zod';
import type { Exec } from '../../shared/exec';
import type { Role } from './role';

/** What a role may know of the agent that hosts it. */
export interface RoleHost {
  /** The agent's private state folder (stateDir), or null when there is none (a one-off tool). */
  stateDir: string | null;
}

/** One kind of role an agent can play. */
export interface RolePlugin<S extends z.ZodType = z.ZodType> {
  /** The role's name, also its key under `roles:` in agent.yaml. */
  name: Role['name'];
  /** The schema of its settings. */
  settings: S;
  /** Builds the role from validated settings, running programs through `exec`; ConfigError when they cannot work. */
  create(settings: z.output<S>, exec: Exec, host: RoleHost): Role;
}

/** A plug-in, typed by its settings schema. */
export const rolePlugin = <S extends z.ZodType>(p: RolePlugin<S>): RolePlugin => p as unknown as RolePlugin;
