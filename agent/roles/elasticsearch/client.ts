/** The Elasticsearch client of the role, and error helpers that turn client errors into operator messages. */
import { readFileSync } from 'node:fs';
import type * as Es from '@elastic/elasticsearch';
import { ConfigError, errorMessage } from '../../../shared/errors';
import { lazyModule } from '../../../shared/lazy-module';
import type { ResolvedEsSettings } from './config';

/** @elastic/elasticsearch, loaded when the role first speaks to Elasticsearch (about 30 MB). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const es = lazyModule(() => require('@elastic/elasticsearch') as typeof Es);

/** The basic-auth user and password (passwordEnv read now), or undefined without a username; ConfigError if the variable is unset. */
export function esAuth(s: ResolvedEsSettings, env: NodeJS.ProcessEnv = process.env): { username: string; password: string } | undefined {
  let password = s.password;
  if (s.passwordEnv !== undefined) {
    password = env[s.passwordEnv];
    if (!password) throw new ConfigError(`environment variable ${s.passwordEnv} (the Elasticsearch password) is not set or empty`);
  }
  return s.username !== undefined ? { username: s.username, password: password ?? '' } : undefined;
}

/** The CA certificate of caFile, read now (ConfigError if unreadable); undefined without one. */
export function esCa(s: ResolvedEsSettings): Buffer | undefined {
  if (!s.caFile) return undefined;
  try {
    return readFileSync(s.caFile);
  } catch (err) {
    throw new ConfigError(`cannot read Elasticsearch CA file ${s.caFile}: ${errorMessage(err)}`);
  }
}

/** Builds a client; reads passwordEnv and caFile now (ConfigError if either is unusable). */
export function esClient(s: ResolvedEsSettings, env: NodeJS.ProcessEnv = process.env): Es.Client {
  const auth = esAuth(s, env);
  const ca = esCa(s);
  return new (es().Client)({
    node: s.url,
    auth,
    tls: ca ? { ca } : undefined,
    requestTimeout: s.requestTimeoutMs,
    // One retry covers a dropped keep-alive connection; more would only delay a clear "unreachable".
    maxRetries: 1,
  });
}

/** HTTP status of a client error, if the server answered. */
export function esStatus(err: unknown): number | undefined {
  return err instanceof es().errors.ResponseError ? err.meta.statusCode : undefined;
}

/** The ES error type (`snapshot_missing_exception`...) of a client error, if any. */
export function esErrorType(err: unknown): string | undefined {
  if (!(err instanceof es().errors.ResponseError)) return undefined;
  const body = err.meta.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

/** A readable one-line description of a client error, with what to check for connection problems. */
export function esProblem(err: unknown, url: string): string {
  const { errors } = es();
  if (err instanceof errors.ConnectionError) return `Elasticsearch at ${url} is unreachable (${err.message}); check the url setting and that Elasticsearch is running`;
  if (err instanceof errors.TimeoutError) return `Elasticsearch at ${url} did not answer in time (${err.message})`;
  if (err instanceof errors.ProductNotSupportedError) return `${url} does not look like Elasticsearch (${err.message})`;
  if (err instanceof errors.ResponseError) {
    if (err.meta.statusCode === 401) return `Elasticsearch at ${url} refused the credentials (401); check username and password`;
    if (err.meta.statusCode === 403) return `Elasticsearch at ${url}: the user lacks a privilege (403): ${err.message}`;
    const body = err.meta.body as { error?: { type?: string; reason?: string } } | undefined;
    if (body?.error?.reason) return `${body.error.type}: ${body.error.reason}`;
  }
  return errorMessage(err);
}
