/**
 * The connection settings an operator already wrote in TheHive's application.conf, so roles can
 * take `theHiveConfig: /etc/thehive/application.conf` instead of repeating them. Only the keys
 * tandem needs are extracted; explicit role settings always win over these.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../../shared/errors';
import { hoconGet, parseHocon, type HoconObject, type HoconValue } from './hocon';

/** What tandem reads from application.conf; every field is absent when the file does not set it. */
export interface TheHiveConf {
  cassandra: { keyspace?: string; hostnames?: string[]; port?: number; username?: string; password?: string };
  elasticsearch: { hostnames?: string[]; port?: number; indexName?: string; ssl?: boolean; username?: string; password?: string };
  storage: {
    provider?: string;
    localfsLocation?: string;
    s3: { bucket?: string; endpoint?: string; region?: string; accessStyle?: string; accessKeyId?: string; secretAccessKey?: string };
  };
}

const str = (v: HoconValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
/** A host list: HOCON array, or one string possibly comma-separated (JanusGraph accepts both). */
const list = (v: HoconValue | undefined): string[] | undefined => {
  const items = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? v.split(',') : undefined;
  const out = items?.map((s) => s.trim()).filter(Boolean);
  return out && out.length ? out : undefined;
};
const int = (v: HoconValue | undefined): number | undefined => {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};
const bool = (v: HoconValue | undefined): boolean | undefined => (v === 'true' ? true : v === 'false' ? false : undefined);

/** Extracts tandem's keys from a parsed application.conf. */
export function theHiveConfFromTree(t: HoconObject): TheHiveConf {
  const g = (p: string) => hoconGet(t, p);
  const es = 'db.janusgraph.index.search';
  // TheHive 5.0-5.2 configured S3 under alpakka.s3; later versions under storage.s3.
  const s3 = (k: string) => g(`storage.s3.${k}`) ?? g(`alpakka.s3.${k}`);
  return {
    cassandra: {
      keyspace: str(g('db.janusgraph.storage.cql.keyspace')),
      hostnames: list(g('db.janusgraph.storage.hostname')),
      port: int(g('db.janusgraph.storage.port')),
      username: str(g('db.janusgraph.storage.username')),
      password: str(g('db.janusgraph.storage.password')),
    },
    elasticsearch: {
      hostnames: list(g(`${es}.hostname`)),
      port: int(g(`${es}.port`)),
      indexName: str(g(`${es}.index-name`)),
      ssl: bool(g(`${es}.elasticsearch.ssl.enabled`)),
      username: str(g(`${es}.elasticsearch.http.auth.basic.username`)),
      password: str(g(`${es}.elasticsearch.http.auth.basic.password`)),
    },
    storage: {
      provider: str(g('storage.provider')),
      localfsLocation: str(g('storage.localfs.location')),
      s3: {
        bucket: str(s3('bucket')),
        endpoint: str(s3('endpoint-url')),
        region: str(s3('aws.region.default-region')),
        accessStyle: str(s3('access-style')),
        accessKeyId: str(s3('aws.credentials.access-key-id')) ?? str(s3('access-key')),
        secretAccessKey: str(s3('aws.credentials.secret-access-key')) ?? str(s3('secret-key')),
      },
    },
  };
}

/** Parses application.conf text. */
export function parseTheHiveConf(text: string, env: NodeJS.ProcessEnv = process.env): TheHiveConf {
  return theHiveConfFromTree(parseHocon(text, env));
}

/** Reads and parses TheHive's application.conf; ConfigError naming the file when unreadable or invalid. */
export function readTheHiveConf(file: string): TheHiveConf {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read TheHive configuration ${file}: ${errorMessage(err)}`, { file });
  }
  try {
    return parseTheHiveConf(text);
  } catch (err) {
    throw new ConfigError(`${file}: ${errorMessage(err)}`, { file });
  }
}

/** The Elasticsearch URL described by JanusGraph's index.search settings (first host), or undefined. */
export function esUrlFromConf(c: TheHiveConf['elasticsearch']): string | undefined {
  const host = c.hostnames?.[0];
  if (!host) return undefined;
  if (/^https?:\/\//.test(host)) return host;
  const scheme = c.ssl ? 'https' : 'http';
  // A host may carry its own port ("es1:9200"); an IPv6 literal needs brackets in a URL.
  if (/^[^:[]+:\d+$/.test(host) || /^\[.*\]:\d+$/.test(host)) return `${scheme}://${host}`;
  const h = host.startsWith('[') || !host.includes(':') ? host : `[${host}]`;
  return `${scheme}://${h}:${c.port ?? 9200}`;
}
