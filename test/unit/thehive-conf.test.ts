/** TheHive application.conf reading: the HOCON subset and the keys tandem extracts. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hoconGet, parseHocon } from '../../agent/roles/hocon';
import { esUrlFromConf, parseTheHiveConf } from '../../agent/roles/thehive-conf';

/** Shaped like the application.conf TheHive 5 ships, for a 3-node Cassandra cluster. */
const LOCALFS_CONF = `# TheHive configuration - application.conf
## Include Play secret key
include "/etc/thehive/secret.conf"

## Database configuration
db.janusgraph {
  storage {
    ## Cassandra configuration
    backend: cql
    hostname: ["10.1.0.11", "10.1.0.12", "10.1.0.13"]
    # Cassandra authentication (if configured)
    username: "thehive"
    password: "p@ss # not a comment"
    cql {
      cluster-name: thp
      keyspace: thehive_prod
    }
  }
  index.search {
    backend: elasticsearch
    hostname: ["10.1.0.21"]
    index-name: thehive
    elasticsearch {
      http.auth {
        type: basic
        basic { username: thehive, password: \${?TH_ES_PASSWORD} }
      }
      ssl.enabled: true
    }
  }
}

## Attachment storage configuration
storage {
  provider: localfs
  localfs.location: /opt/thp/thehive/files   // the NFS share
}

play.http.parser.maxDiskBuffer: 1GB
application.baseUrl: "http://localhost:9000"
play.http.context: "/"
scalligraph.modules += org.thp.thehive.connector.cortex.CortexModule
scalligraph.modules += org.thp.thehive.connector.misp.MispModule
`;

/** The S3 (MinIO) variant of the storage section, as TheHive's documentation writes it. */
const S3_CONF = `db.janusgraph.storage.cql.keyspace = thehive
db.janusgraph.index.search.hostname = "es1.example:9201"
storage {
  provider: s3
  s3 {
    bucket = "thehive"
    readTimeout = 1 minute
    chunkSize = 1 MB
    endpoint-url = "http://10.1.0.31:9000"
    access-style = path
    aws.region.provider = "static"
    aws.region.default-region = "us-east-1"
    aws.credentials.provider = "static"
    aws.credentials.access-key-id = "minioadmin"
    aws.credentials.secret-access-key = "minio-secret"
  }
}
`;

test('realistic localfs application.conf: every key tandem needs', () => {
  const c = parseTheHiveConf(LOCALFS_CONF, { TH_ES_PASSWORD: 'es-pw' });
  assert.equal(c.cassandra, { keyspace: 'thehive_prod', hostnames: ['10.1.0.11', '10.1.0.12', '10.1.0.13'], port: undefined, username: 'thehive', password: 'p@ss # not a comment' });
  assert.equal(c.elasticsearch, { hostnames: ['10.1.0.21'], port: undefined, indexName: 'thehive', ssl: true, username: 'thehive', password: 'es-pw' });
  assert.is(c.storage.provider, 'localfs');
  assert.is(c.storage.localfsLocation, '/opt/thp/thehive/files');
  assert.is(esUrlFromConf(c.elasticsearch), 'https://10.1.0.21:9200');
});

test('an unset optional substitution leaves the key unset', () => {
  const c = parseTheHiveConf(LOCALFS_CONF, {});
  assert.is(c.elasticsearch.password, undefined);
  assert.is(c.elasticsearch.username, 'thehive');
});

test('realistic s3 application.conf: bucket, endpoint, style, region and keys', () => {
  const c = parseTheHiveConf(S3_CONF, {});
  assert.equal(c.storage.s3, { bucket: 'thehive', endpoint: 'http://10.1.0.31:9000', region: 'us-east-1', accessStyle: 'path', accessKeyId: 'minioadmin', secretAccessKey: 'minio-secret' });
  assert.is(c.storage.provider, 's3');
  assert.is(c.cassandra.keyspace, 'thehive');
  assert.is(esUrlFromConf(c.elasticsearch), 'http://es1.example:9201');
});

test('TheHive 5.0 alpakka.s3 keys are read too', () => {
  const c = parseTheHiveConf('storage.provider = s3\nalpakka.s3 { endpoint-url = "http://m:9000", bucket = b1, access-key = k, secret-key = s }\n', {});
  assert.equal([c.storage.s3.bucket, c.storage.s3.endpoint, c.storage.s3.accessKeyId, c.storage.s3.secretAccessKey], ['b1', 'http://m:9000', 'k', 's']);
});

test('HOCON: dotted keys and nested objects merge; later values win', () => {
  const t = parseHocon('a.b.c = 1\na { b { d: 2 }, e = x }\na.b.c = 3\n');
  assert.equal(t, { a: { b: { c: '3', d: '2' }, e: 'x' } });
});

test('HOCON: separators, comments, root braces, arrays across lines, quoted keys', () => {
  const t = parseHocon('{\n  "a.b": "q" // comment\n  list = [\n    "h1", # one\n    h2\n  ]\n  x : y, z = "w"\n  empty = ""\n}\n');
  assert.equal(t, { 'a.b': 'q', list: ['h1', 'h2'], x: 'y', z: 'w', empty: '' });
  assert.is(hoconGet(t, 'list'), (t as { list: unknown }).list);
});

test('HOCON: unquoted values keep inner spaces; quoted strings keep escapes and //', () => {
  const t = parseHocon('t = 1 minute  \nu = "http://h:1/p\\"q"\nv = """raw "x" here"""\n');
  assert.equal(t, { t: '1 minute', u: 'http://h:1/p"q', v: 'raw "x" here' });
});

test('HOCON: substitutions from earlier keys and the environment; += appends', () => {
  const t = parseHocon('base = /opt/thp\nloc = ${base}"/files"\nenvd = ${HOME_X}\nm += a\nm += b\n', { HOME_X: '/root' });
  assert.equal(t, { base: '/opt/thp', loc: '/opt/thp/files', envd: '/root', m: ['a', 'b'] });
});

test('HOCON: errors name the line', () => {
  assert.throws(() => parseHocon('a = 1\nb {\n c = 2\n'), /line 4: missing "}"/);
  assert.throws(() => parseHocon('a = 1\nb = "unterminated\n'), /line 2: unterminated string/);
  assert.throws(() => parseHocon('x = ${NOPE_NOT_SET}\n', {}), /line 1: substitution \$\{NOPE_NOT_SET\} is not defined/);
  assert.throws(() => parseHocon('k v\n'), /line 1: expected ":", "=" or "\{"/);
});

test('esUrlFromConf: ports, IPv6 and explicit schemes', () => {
  assert.is(esUrlFromConf({ hostnames: ['es'], port: 9300 }), 'http://es:9300');
  assert.is(esUrlFromConf({ hostnames: ['::1'] }), 'http://[::1]:9200');
  assert.is(esUrlFromConf({ hostnames: ['https://es:443'] }), 'https://es:443');
  assert.is(esUrlFromConf({}), undefined);
});

test.run();
