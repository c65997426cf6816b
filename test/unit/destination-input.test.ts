/**
 * What is read back from a destination is hostile input: every name in a manifest, part record or
 * listing is held to the same patterns as CLI input when it is parsed, with a message naming the field.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseManifest } from '../../shared/manifest';
import { filesListingSchema } from '../../shared/parts/files';
import { localListingOf } from '../helpers/listing';
import { parseValue } from '../../shared/parts/io';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { PreconditionError } from '../../shared/errors';
import { filesSettings, resolveFilesSettings } from '../../agent/roles/files/config';
import { checkFilesTarget, restoreFiles } from '../../agent/roles/files/restore';
import { loadFolder, restoredMode, verifyFolder } from '../../agent/roles/files/restore-localfs';
import { parseRestoreOptions } from '../../shared/wire/restore';
import { SET_ID, plantFilesSet, validListing, validManifest } from '../helpers/backup-set';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const tmp = scratchDirSync('destination-input');
test.after(() => removeScratch(tmp));

const body = (m: unknown) => JSON.stringify(m);
const refused = (tamper: (m: Record<string, any>) => void, message: RegExp) => {
  const m = validManifest();
  tamper(m);
  assert.throws(() => parseManifest(body(m), SET_ID), message);
};

test('the untouched fixture parses', () => {
  assert.is(parseManifest(body(validManifest()), SET_ID).nodes[0].node, 'node1');
  assert.ok(parseValue(validListing(), filesListingSchema, 'listing.json', 'files listing'));
});

test('table and keyspace names with ";", "../" or NUL are refused, naming the field and the value', () => {
  const table = (m: any) => m.nodes[0].parts.cassandra.tables[0];
  refused((m) => (table(m).table = 'x;DROP'), /nodes\.0\.parts\.cassandra\.tables\.0\.table: "x;DROP" is not a valid table name/);
  refused((m) => (table(m).table = '../etc'), /"\.\.\/etc" is not a valid table name/);
  refused((m) => (table(m).keyspace = 'the\0hive'), /"the\\u0000hive" is not a valid keyspace name/);
  refused((m) => (m.nodes[0].parts.cassandra.keyspaces = ['system"; --']), /keyspaces\.0: .* is not a valid keyspace name/);
});

test('index, alias, repository and snapshot names are single concrete Elasticsearch names', () => {
  const es = (m: any) => m.nodes[0].parts.elasticsearch;
  for (const bad of ['thehive,secret', 'thehive*', '_all', '-thehive', '+x', 'a#b', 'a b', 'TheHive', 'a..b', 'a/b']) {
    refused((m) => (es(m).indices = [bad]), /indices\.0: .* is not a valid Elasticsearch index name/);
  }
  refused((m) => (es(m).aliases = { thehive_global: ['thehive,other'] }), /aliases\.thehive_global\.0: .* is not a valid Elasticsearch index name/);
  refused((m) => (es(m).docCounts = { '*': 1 }), /docCounts\.\*: .* is not a valid Elasticsearch index name/);
  refused((m) => (es(m).repository.name = '../repo'), /is not a valid Elasticsearch repository name/);
  refused((m) => (es(m).snapshot = 'a,b'), /is not a valid Elasticsearch snapshot name/);
});

test('node names and ids are checked; a file of an unknown node or outside its node folder is refused', () => {
  refused((m) => (m.nodes[0].node = '-oProxyCommand=x'), /nodes\.0\.node: .* is not a valid node name/);
  refused((m) => (m.files[0].node = 'node9'), /files\.0\.node: "node9" is not a node of this set \(node1\)/);
  refused((m) => (m.files[0].path = 'tandem-other/node1/cassandra/x.tar.bz2'), /files\.0\.path: .* is outside tandem-20261122t101500z-0a1b2c\/node1\//);
  refused((m) => (m.files[0].path = `${SET_ID}/node1/../../etc/passwd`), /segment "\.\." is not allowed/);
  refused((m) => (m.nodes[0].parts.cassandra.tables[0].path = `${SET_ID}/node2/cassandra/thehive/edgestore.tar.bz2`), /tables\.0\.path: .* is outside/);
  refused((m) => (m.nodes[0].parts.files.listing.path = 'elsewhere/listing.json'), /files\.listing\.path: .* is outside/);
  refused((m) => (m.nodes[0].record.path = `${SET_ID}/node1/other.json`), /record\.path: .* is not tandem-20261122t101500z-0a1b2c\/node1\/part\.json/);
  refused((m) => m.nodes.push({ ...m.nodes[0] }), /node node1 appears twice/);
  refused((m) => (m.tag = 'a b'), /tag: .* is not a valid snapshot tag/);
  refused((m) => (m.nodes[0].parts.cassandra.tables[0].sha256 = 'A'.repeat(64)), /must be a lowercase hex sha256/);
});

test('listing paths stay relative and inside the store', () => {
  for (const bad of ['../x', '/etc/passwd', 'a/../../x', 'a//b', '.hidden', '-x', 'a\0b', 'a\\b']) {
    const l = validListing();
    l.files[0].path = bad;
    assert.throws(() => parseValue(l, filesListingSchema, 'listing.json', 'files listing'), /listing\.json is not a valid files listing: files\.0\.path/, bad);
  }
  const l = validListing();
  l.dirs[1].path = '../up';
  assert.throws(() => parseValue(l, filesListingSchema, 'listing.json', 'files listing'), /dirs\.1\.path/);
});

test('modes from a listing never set setuid, setgid or sticky bits', async () => {
  assert.is(restoredMode(0o4755), 0o755);
  assert.is(restoredMode(0o2770), 0o770);
  assert.is(restoredMode(0o1777), 0o777);
  const { ctx, from, target, listing } = plantFilesSet(join(tmp, 'modes'), (l) => {
    l.files[0].mode = 0o6755;
    l.dirs[1].mode = 0o3775;
  });
  const parsed = localListingOf(listing);
  const t = { from, target, concurrency: 2 };
  const out = await loadFolder(ctx, t, parsed, false);
  assert.match(out.detail, /setuid\/setgid\/sticky bits of 2 listed entries not restored/);
  assert.is(statSync(join(target, 'ab', 'cdef')).mode & 0o7777, 0o755);
  assert.is(statSync(join(target, 'ab')).mode & 0o7777, 0o775);
  assert.ok((await verifyFolder(ctx, t, parsed)).ok, 'verify expects the masked modes');
});

test('--files-target is refused outside files.restoreTargets, with or without --files-clean, naming the setting', async () => {
  const live = resolveFilesSettings(filesSettings.parse({ store: 'localfs', location: '/opt/thp/thehive/files' }));
  const opts = (filesTarget: string, filesClean = true) => parseRestoreOptions({ filesTarget, filesClean });
  assert.equal(live.restoreTargets, ['/opt/thp/thehive/files', '/var/tmp/tandem-drill'], 'default: the store and the drill scratch folder');
  assert.not.throws(() => checkFilesTarget(opts('/opt/thp/thehive/files'), live));
  assert.not.throws(() => checkFilesTarget(opts('/var/tmp/tandem-drill/drill-1', false), live), 'the default drill scratch folder');
  assert.throws(() => checkFilesTarget(opts('/etc'), live), /--files-target \/etc with --files-clean .* outside the folders this agent may restore into \(\/opt\/thp\/thehive\/files, \/var\/tmp\/tandem-drill\): add it.* roles\.files\.restoreTargets/);
  // A plain load renames over existing files with the listing's owner and mode: confined too.
  assert.throws(() => checkFilesTarget(opts('/etc', false), live), /--files-target \/etc is outside the folders this agent may restore into .*roles\.files\.restoreTargets/);
  assert.throws(() => checkFilesTarget(opts('/var/lib/tandem-agent/state', false), live), /restoreTargets/);
  assert.throws(() => checkFilesTarget(opts('/opt/thp/thehive/files-other'), live), /restoreTargets/);
  assert.not.throws(() => checkFilesTarget({ filesTarget: undefined, filesClean: false }, live), 'no target: the configured location');
  const s3 = resolveFilesSettings(filesSettings.parse({ store: 's3', bucket: 'thehive' }));
  assert.equal(s3.restoreTargets, ['/var/tmp/tandem-drill']);
  const drills = resolveFilesSettings(filesSettings.parse({ store: 'localfs', restoreTargets: ['/var/tmp/tandem-drill'] }));
  assert.not.throws(() => checkFilesTarget(opts('/var/tmp/tandem-drill/d1'), drills));
  assert.throws(() => checkFilesTarget(opts('/opt/thp/thehive/files'), drills), /outside the folders this agent may restore into \(\/var\/tmp\/tandem-drill\)/);
  assert.throws(() => filesSettings.parse({ store: 'localfs', restoreTargets: ['/'] }));
  assert.throws(() => filesSettings.parse({ store: 'localfs', restoreTargets: ['relative'] }));
  // Refused in the first phase the files role runs, before anything is written.
  const { ctx } = plantFilesSet(join(tmp, 'clean'));
  const err = await restoreFiles('fetch', { ...ctx, options: opts('/etc') }, live).catch((e: Error) => e);
  assert.instance(err, PreconditionError);
  // A link inside an allowed folder does not lead the clean elsewhere.
  const allowed = join(tmp, 'allowed');
  mkdirSync(join(tmp, 'elsewhere'), { recursive: true });
  mkdirSync(allowed, { recursive: true });
  symlinkSync(join(tmp, 'elsewhere'), join(allowed, 'link'));
  const s = { ...live, restoreTargets: [allowed] };
  const e2 = await restoreFiles('load', { ...ctx, options: opts(join(allowed, 'link')) }, s).catch((e: Error) => e);
  assert.match(String(e2), /link \(.*elsewhere\) with --files-clean/);
  // Nor a plain load, nor a folder not made yet below the link.
  const e3 = await restoreFiles('load', { ...ctx, options: opts(join(allowed, 'link', 'new'), false) }, s).catch((e: Error) => e);
  assert.match(String(e3), /link\/new \(.*elsewhere\/new\) is outside the folders this agent may restore into/);
  // A drill's cleanup removes nothing outside either.
  const e4 = await restoreFiles('cleanup', { ...ctx, options: parseRestoreOptions({ filesTarget: join(allowed, 'link'), dropScratch: true }) }, s).catch((e: Error) => e);
  assert.instance(e4, PreconditionError);
  assert.ok(existsSync(join(tmp, 'elsewhere')));
});

test.run();
