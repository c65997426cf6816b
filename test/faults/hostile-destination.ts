/**
 * Hostile input read back from a destination (issue 12, item 5): any agent can write to the
 * destination, so a compromised node could plant a set that the weekly drill restores across the
 * cluster. Each case plants one hostile manifest, schema.cql, listing or archive and checks that
 * tandem refuses it, before anything is written, with a message that names what is wrong.
 * Pure code and temporary folders: no service, quick enough for `npm test`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkSchemaCql } from '../../agent/roles/cassandra/schema-cql';
import { restoreCassandra } from '../../agent/roles/cassandra/restore';
import type { CassandraSettings } from '../../agent/roles/cassandra/config';
import { filesSettings, resolveFilesSettings } from '../../agent/roles/files/config';
import { restoreFiles } from '../../agent/roles/files/restore';
import { loadFolder } from '../../agent/roles/files/restore-localfs';
import { errorMessage } from '../../shared/errors';
import { parseManifest } from '../../shared/manifest';
import { filesListingSchema, type FilesListing } from '../../shared/parts/files';
import { localListingOf } from '../helpers/listing';
import { parseValue } from '../../shared/parts/io';
import { parseRestoreOptions } from '../../shared/wire/restore';
import { plantCassandraSet, plantFilesSet, SET_ID, validListing, validManifest } from '../helpers/backup-set';
import { observe, type FaultCase, type Observation } from './case';
import { signedSetCases } from './hostile-signatures';
import { removeScratch, scratchDir } from '../helpers/scratch';

/** Runs `fn`; the case passes when it throws a message matching `why`. */
async function refusal(fn: () => unknown, why: RegExp, after: () => string[] = () => []): Promise<Observation> {
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  const problems = err === null ? ['accepted: no error'] : why.test(errorMessage(err)) ? [] : [`refused, but not for the expected reason (${why.source}): ${errorMessage(err)}`];
  problems.push(...after());
  return observe(err === null ? 'accepted' : `refused: ${errorMessage(err).slice(0, 200)}`, problems);
}

/** A manifest refused when parsed, after `tamper`. */
const manifestCase = (name: string, tamper: (m: Record<string, any>) => void, why: RegExp): FaultCase => ({
  kind: 'hostile',
  name,
  phase: 'manifest',
  expected: 'the manifest is refused when parsed, naming the field',
  needs: 'none',
  quick: true,
  run: () =>
    refusal(() => {
      const m = validManifest();
      tamper(m);
      parseManifest(JSON.stringify(m), SET_ID);
    }, why),
});

/** A schema.cql refused before any statement runs. */
const schemaCase = (name: string, cql: string, why: RegExp): FaultCase => ({
  kind: 'hostile',
  name,
  phase: 'restore:schema',
  expected: 'schema.cql refused before any statement runs, naming the statement and its line',
  needs: 'none',
  quick: true,
  run: () => refusal(() => checkSchemaCql(cql, { keyspace: 'thehive', tables: ['edgestore'] }), why),
});

/** A temporary folder for one case, removed afterwards. */
async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await scratchDir('hostile');
  try {
    return await fn(dir);
  } finally {
    removeScratch(dir);
  }
}

/** The cassandra fetch phase on a planted set; passes when refused and nothing was extracted. */
const archiveCase = (name: string, plant: Parameters<typeof plantCassandraSet>[1], why: RegExp, tamperManifest?: (m: any) => void): FaultCase => ({
  kind: 'hostile',
  name,
  phase: 'restore:fetch',
  expected: 'refused before any byte is extracted; the download is removed',
  needs: 'none',
  quick: true,
  run: () =>
    inTemp(async (dir) => {
      const { ctx, tableDir, workDir } = await plantCassandraSet(dir, plant);
      tamperManifest?.(ctx.manifest);
      return refusal(() => restoreCassandra({} as CassandraSettings, 'fetch', ctx), why, () => [
        ...(existsSync(tableDir) ? [`${tableDir} was created: something was extracted`] : []),
        ...(existsSync(join(workDir, 'node1')) ? readdirSync(join(workDir, 'node1')).filter((f) => f.endsWith('.archive')).map((f) => `download ${f} left behind`) : []),
      ]);
    }),
});

const parseListing = (l: unknown) => parseValue(l, filesListingSchema, 'listing.json', 'files listing') as Extract<FilesListing, { store: 'localfs' }>;

export const hostileDestinationCases: FaultCase[] = [
  archiveCase('manifest records another sha256 for a table archive', {}, /sha256 .* refused before extracting/, (m) => {
    m.nodes[0].parts.cassandra.tables[0].sha256 = 'f'.repeat(64);
  }),
  archiveCase('table archive replaced at the destination (same size, other bytes)', {
    archiveBody: (a) => Buffer.from(a.toString('latin1').replace('datadata', 'DATADATA'), 'latin1'),
  }, /sha256 .* refused before extracting/),
  archiveCase('table archive larger than the manifest records', { archiveBody: (a) => Buffer.concat([a, Buffer.alloc(1 << 20)]) }, /larger than the \d+ bytes the manifest records/),
  archiveCase('archive entries larger than contents.json records', { recordedSize: 2 }, /exceeds the per-entry limit of 2 bytes/),
  archiveCase('table archive truncated at the destination', { archiveBody: (a) => a.subarray(0, a.length >> 1) }, /edgestore\.tar\.bz2: \d+ bytes with sha256 [0-9a-f]{64}, the manifest records \d+ bytes/),
  archiveCase('contents.json modified at the destination (another size recorded)', { contentsBody: (c) => Buffer.from(c.toString().replace('"size":400', '"size":4000000')) }, /contents\.json does not match its record \(\d+ bytes; expected/),
  archiveCase('contents.json truncated at the destination', { contentsBody: (c) => c.subarray(0, c.length >> 1) }, /contents\.json does not match its record \(\d+ bytes; expected/),
  archiveCase('contents.json inflated to 1 GiB (sparse)', { contentsBody: () => 'sparse-GiB' }, /contents\.json does not match its record \(1073741824 bytes; expected/),
  archiveCase('contents.json replaced by a planted one naming /etc/passwd', { contentsBody: (c) => Buffer.from(c.toString().replace('nb-1-big-Data.db', '../../../../etc/passwd')) }, /contents\.json does not match its record \(\d+ bytes; expected/),
  manifestCase('manifest file path leaving the set (../)', (m) => (m.files[0].path = `${SET_ID}/node1/../../etc/passwd`), /files\.0\.path: .*segment "\.\." is not allowed/),
  manifestCase('manifest file path in another set', (m) => (m.files[0].path = 'tandem-other/node1/cassandra/thehive/edgestore.tar.bz2'), /files\.0\.path: .* is outside/),
  manifestCase('manifest archive path in another node\'s folder', (m) => (m.nodes[0].parts.cassandra.tables[0].path = `${SET_ID}/node2/cassandra/thehive/edgestore.tar.bz2`), /tables\.0\.path: .* is outside/),
  manifestCase('manifest file of an unknown node', (m) => (m.files[0].node = 'node9'), /files\.0\.node: "node9" is not a node of this set/),
  manifestCase('manifest node name starting with -', (m) => (m.nodes[0].node = '-oProxyCommand=sh'), /nodes\.0\.node: .* is not a valid node name/),
  manifestCase('table name with ";" in a manifest', (m) => (m.nodes[0].parts.cassandra.tables[0].table = 'edgestore;DROP'), /tables\.0\.table: .* is not a valid table name/),
  manifestCase('table name "../x" in a manifest', (m) => (m.nodes[0].parts.cassandra.tables[0].table = '../x'), /tables\.0\.table: .* is not a valid table name/),
  manifestCase('table name with NUL in a manifest', (m) => (m.nodes[0].parts.cassandra.tables[0].table = 'edge\0store'), /tables\.0\.table: .* is not a valid table name/),
  manifestCase('keyspace name with a quote in a manifest', (m) => (m.nodes[0].parts.cassandra.keyspaces = ['thehive"; DROP']), /keyspaces\.0: .* is not a valid keyspace name/),
  manifestCase('index name with a comma in a manifest', (m) => (m.nodes[0].parts.elasticsearch.indices = ['thehive_global,secret']), /indices\.0: .* is not a valid Elasticsearch index name/),
  manifestCase('index pattern "*" in a manifest', (m) => (m.nodes[0].parts.elasticsearch.indices = ['*']), /indices\.0: .* is not a valid Elasticsearch index name/),
  manifestCase('alias with a comma in a manifest', (m) => (m.nodes[0].parts.elasticsearch.aliases = { thehive_global: ['thehive,x'] }), /aliases\.thehive_global\.0/),
  manifestCase('wrong sha256 form in a manifest', (m) => (m.nodes[0].parts.cassandra.tables[0].sha256 = 'not-a-sha'), /must be a lowercase hex sha256/),
  schemaCase('schema.cql with a DROP', 'CREATE TABLE thehive.edgestore (k blob PRIMARY KEY);\nDROP KEYSPACE thehive;', /line 2: refusing "DROP KEYSPACE thehive"/),
  schemaCase('schema.cql creating a table in another keyspace', 'CREATE TABLE system_auth.planted (k int PRIMARY KEY);', /it names keyspace system_auth/),
  schemaCase('schema.cql creating another keyspace', "CREATE KEYSPACE other WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};", /it creates keyspace other/),
  schemaCase('schema.cql with a CREATE FUNCTION (code on the server)', 'CREATE FUNCTION thehive.f (x int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS $$ return 0; $$;', /CREATE FUNCTION is not replayed/),
  schemaCase('schema.cql hiding a statement after an unterminated one', "CREATE TABLE thehive.edgestore (k blob PRIMARY KEY) WITH comment = 'x", /a string is not closed/),
  {
    kind: 'hostile',
    name: 'files listing path leaving the target (../)',
    phase: 'restore:load',
    expected: 'the listing is refused when parsed',
    needs: 'none',
    quick: true,
    run: () =>
      refusal(() => {
        const l = validListing();
        l.files[0].path = '../../etc/cron.d/x';
        parseListing(l);
      }, /files\.0\.path: .*segment "\.\." is not allowed/),
  },
  {
    kind: 'hostile',
    name: 'files listing with setuid/setgid modes',
    phase: 'restore:load',
    expected: 'files restored with permission bits only (no setuid, setgid, sticky)',
    needs: 'none',
    quick: true,
    run: () =>
      inTemp(async (dir) => {
        const { ctx, from, target, listing } = plantFilesSet(dir, (l) => {
          l.files[0].mode = 0o6755;
          l.dirs[1].mode = 0o3777;
        });
        await loadFolder(ctx, { from, target, concurrency: 1 }, localListingOf(parseListing(listing)), false);
        const file = statSync(join(target, 'ab', 'cdef')).mode & 0o7777;
        const folder = statSync(join(target, 'ab')).mode & 0o7777;
        const problems = [file & 0o7000 ? `file restored with mode ${file.toString(8)}` : '', folder & 0o7000 ? `folder restored with mode ${folder.toString(8)}` : ''].filter(Boolean);
        return observe(`restored as ${file.toString(8)} (file) and ${folder.toString(8)} (folder)`, problems);
      }),
  },
  {
    kind: 'hostile',
    name: '--files-target /etc with --files-clean',
    phase: 'restore:fetch',
    expected: 'refused in the first phase, naming roles.files.restoreTargets',
    needs: 'none',
    quick: true,
    run: () =>
      inTemp(async (dir) => {
        const { ctx } = plantFilesSet(dir);
        const s = resolveFilesSettings(filesSettings.parse({ store: 'localfs', location: join(dir, 'live') }));
        return refusal(() => restoreFiles('fetch', { ...ctx, options: parseRestoreOptions({ filesTarget: '/etc', filesClean: true }) }, s), /roles\.files\.restoreTargets/);
      }),
  },  ...signedSetCases,
];
