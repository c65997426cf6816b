/**
 * An incremental set on an encrypted parent: the Cassandra role reads the parent's contents.json
 * from the plaintext copy its agent kept, only when the parent's signed manifest records the very
 * stored file the agent wrote; otherwise every table is archived in full, and the role says why.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateIdentity } from '../../shared/age';
import { openDestination } from '../../shared/destination';
import type { Manifest } from '../../shared/manifest';
import type { SstableContents } from '../../shared/parts/cassandra';
import { SealedDestination } from '../../agent/backup/sealed-destination';
import { LocalCopies } from '../../agent/backup/local-copies';
import { parentTables } from '../../agent/roles/cassandra/parent-tables';
import { backupContext } from '../helpers/roles';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const root = scratchDirSync('encrypted-parent');
mkdirSync(join(root, 'dest'));
test.after(() => removeScratch(root));

const PARENT = 'tandem-20261207t010000z-aaaaaa';
const dest = openDestination({ type: 'local', path: join(root, 'dest') });
const recipient = generateIdentity().recipient.toString();
const sha = (c: string) => c.repeat(64);
const archive = { path: `${PARENT}/node1/cassandra/thehive/edgestore-1.tbz`, size: 100, sha256: sha('a'), set: PARENT, bytesIn: 200 };
const contents: SstableContents = {
  format: 'tandem.sstable-contents/v2',
  tables: {
    'thehive.edgestore': {
      files: [{ path: 'nb-1-big-Data.db', size: 150, sha256: sha('b') }],
      sstables: [{ name: 'nb-1-big', dataSize: 150, dataMtimeMs: 1, digest: null, dataSha256: sha('b'), set: PARENT, archive: archive.path, components: [{ path: 'nb-1-big-Data.db', size: 150, sha256: sha('b') }] }],
      archives: [archive],
    },
  },
};

/** Writes the parent's contents.json as its agent did (sealed, copy kept); returns the parent's manifest and what it records. */
async function writeParent(copies: LocalCopies) {
  const sealed = new SealedDestination(dest, recipient, copies);
  const body = JSON.stringify(contents) + '\n';
  const plainPath = `${PARENT}/node1/cassandra/contents.json`;
  await sealed.writeAtomic(plainPath, body);
  const plain = { path: plainPath, size: Buffer.byteLength(body), sha256: createHash('sha256').update(body).digest('hex') };
  const storedContents = sealed.storedAs(plain);
  const part = { compression: 'bzip2', keyspaces: ['thehive'], tables: [{ keyspace: 'thehive', table: 'edgestore', tableDir: 'edgestore-1', path: archive.path, size: 100, sha256: sha('a'), bytesIn: 200, chain: 0, bytesReused: 0 }], contents: plain, summary: '' };
  const files = [
    { path: `${archive.path}.age`, size: 140, sha256: sha('c'), node: 'node1', role: 'cassandra' as const },
    { ...storedContents, node: 'node1', role: 'cassandra' as const },
  ];
  const manifest = { id: PARENT, options: { setRecipient: recipient }, files, references: [], nodes: [{ node: 'node1', parts: { cassandra: part } }] } as unknown as Manifest;
  return { manifest, storedContents };
}

function contextWith(manifest: Manifest, copies: LocalCopies) {
  const logged: string[] = [];
  const ctx = backupContext(root, dest, 'cassandra');
  ctx.parent = { backupId: PARENT, load: async () => ({ manifest, node: manifest.nodes[0] }) };
  ctx.localCopy = (stored) => copies.read(stored);
  ctx.log = { ...ctx.log, info: (_o: unknown, msg: string) => void logged.push(msg), warn: (_o: unknown, msg: string) => void logged.push(msg), child: () => ctx.log } as unknown as typeof ctx.log;
  return { ctx, logged };
}

test('the kept copy of an encrypted parent\'s contents.json gives its tables', async () => {
  const copies = new LocalCopies(join(root, 'state-1', 'sealed'));
  const { manifest } = await writeParent(copies);
  const { ctx } = contextWith(manifest, copies);
  const p = await parentTables(ctx);
  assert.equal([...p.tables.keys()], ['thehive.edgestore']);
});

test('no copy matching the stored file the manifest records: every table in full, and why', async () => {
  const copies = new LocalCopies(join(root, 'state-2', 'sealed'));
  const { manifest, storedContents } = await writeParent(copies);
  // Another stored contents.json (another host wrote it, or it was rewritten): the copy does not match.
  const other = { ...manifest, files: manifest.files.map((f) => (f.path === storedContents.path ? { ...f, sha256: sha('d') } : f)) } as Manifest;
  const { ctx, logged } = contextWith(other, copies);
  const p = await parentTables(ctx);
  assert.is(p.tables.size, 0);
  assert.ok(logged.some((l) => l.includes('kept no copy of its contents.json')), logged.join('\n'));
  // And an agent that kept nothing at all.
  const { ctx: fresh } = contextWith(manifest, new LocalCopies(join(root, 'state-3', 'sealed')));
  assert.is((await parentTables(fresh)).tables.size, 0);
});

test.run();
