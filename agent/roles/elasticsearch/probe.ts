/**
 * The two read-only requests an idle agent makes to Elasticsearch, its health probe every few
 * seconds and its version once at start, as plain HTTP GETs: the client library (about 30 MB
 * resident) is loaded only when a backup or a restore first needs it, not by an agent that waits.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TandemError } from '../../../shared/errors';
import { esAuth, esCa } from './client';
import type { ResolvedEsSettings } from './config';

/** An answer larger than this is not one of the two small JSON bodies asked for. */
const MAX_BODY_BYTES = 1024 * 1024;

/** A GET that Elasticsearch refused or that never reached it, with the operator's message. */
export class EsProbeError extends TandemError {}

/** `path` under the configured URL (which may carry a proxy's path prefix). */
function urlOf(base: string, path: string): URL {
  const u = new URL(base);
  const q = path.indexOf('?');
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${q < 0 ? path : path.slice(0, q)}`;
  if (q >= 0) u.search = path.slice(q);
  return u;
}

/** GETs `path` (with its query) as JSON, with the role's credentials and CA, within the role's request timeout or `signal`. */
export function esGetJson(s: ResolvedEsSettings, path: string, signal?: AbortSignal, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  const auth = esAuth(s, env);
  const ca = esCa(s);
  const url = urlOf(s.url, path);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', ...(auth ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {}) },
        ca,
        signal,
        timeout: s.requestTimeoutMs,
      },
      (res) => void readAnswer(res, s.url).then(resolve, reject),
    );
    req.once('timeout', () => req.destroy(new EsProbeError(`Elasticsearch at ${s.url} did not answer in time (${s.requestTimeoutMs} ms)`)));
    req.once('error', (err) => {
      if (err instanceof EsProbeError || signal?.aborted) return reject(signal?.aborted ? (signal.reason ?? err) : err);
      reject(new EsProbeError(`Elasticsearch at ${s.url} is unreachable (${err.message}); check the url setting and that Elasticsearch is running`, {}, { cause: err }));
    });
    req.end();
  });
}

/** The JSON body of an answer, or the error it says, in the words of the role's other messages. */
async function readAnswer(res: IncomingMessage, base: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      res.destroy();
      throw new EsProbeError(`${base} answered more than ${MAX_BODY_BYTES} bytes: it does not look like Elasticsearch`);
    }
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EsProbeError(`${base} does not look like Elasticsearch (HTTP ${res.statusCode}, not JSON)`);
  }
  const status = res.statusCode ?? 0;
  if (status === 401) throw new EsProbeError(`Elasticsearch at ${base} refused the credentials (401); check username and password`);
  if (status === 403) throw new EsProbeError(`Elasticsearch at ${base}: the user lacks a privilege (403)`);
  if (status < 200 || status > 299) {
    const e = (body as { error?: { type?: string; reason?: string } }).error;
    throw new EsProbeError(e?.reason ? `${e.type}: ${e.reason}` : `Elasticsearch at ${base} answered HTTP ${status}`);
  }
  return body;
}

/** The cluster's health status (green, yellow, red). */
export async function esClusterStatus(s: ResolvedEsSettings, signal?: AbortSignal): Promise<string> {
  const body = (await esGetJson(s, '/_cluster/health', signal)) as { status?: unknown };
  if (typeof body.status !== 'string') throw new EsProbeError(`${s.url} does not look like Elasticsearch (no status in /_cluster/health)`);
  return body.status;
}

/** This node's Elasticsearch version, from _nodes/_local (GET / is refused by some proxies). */
export async function esNodeVersion(s: ResolvedEsSettings): Promise<string> {
  const body = (await esGetJson(s, '/_nodes/_local?filter_path=nodes.*.version')) as { nodes?: Record<string, { version?: unknown }> };
  const v = Object.values(body.nodes ?? {})[0]?.version;
  if (typeof v !== 'string') throw new TandemError('Elasticsearch did not report its version');
  return v;
}
