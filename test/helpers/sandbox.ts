/**
 * The one way integration tests reach the sandbox's services. A test that needs them starts with
 * needSandbox() (itself or through a getter that calls it): when the sandbox is not up the test
 * fails and says what to run. It never returns early, which uvu would count as passed
 * (`npm test` brings the sandbox up first). No test skips for want of the sandbox.
 */
import { existsSync, readFileSync } from 'node:fs';
import { sandboxPaths, type SandboxEnv } from '../sandbox/paths';

export type { SandboxEnv };

/** The sandbox's env.json ($TANDEM_SANDBOX_ENV, default <repo>/.sandbox/env.json), or null when it is absent. */
export function sandboxEnvOrNull(): SandboxEnv | null {
  const file = process.env.TANDEM_SANDBOX_ENV ?? sandboxPaths().envJson;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SandboxEnv) : null;
}

/**
 * Fails the calling test when the sandbox is not up, that is when `fromSandbox` (its env, or
 * anything built from it) is null; narrows it otherwise. Call it in tests, not in before hooks:
 * uvu drops an error thrown by a before hook without printing it.
 */
export function needSandbox<T>(fromSandbox: T | null | undefined): asserts fromSandbox is T {
  if (fromSandbox == null) {
    const file = process.env.TANDEM_SANDBOX_ENV ?? sandboxPaths().envJson;
    throw new Error(`the sandbox is not up (${file} is missing): run "npm run sandbox -- up", or "npm test", which brings it up`);
  }
}
