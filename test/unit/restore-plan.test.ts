/** The restore plan: who loads what, with which tool, and what the operator is told first. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planRestore } from '../../coordinator/restore/plan';
import type { AgentHandle } from '../../coordinator/fleet';
import type { Manifest } from '../../shared/manifest';

const agent = (node: string, roles: string[]) => ({ node, entry: { node, address: '127.0.0.1:1', roles } }) as unknown as AgentHandle;
const node = (name: string, parts: Record<string, unknown>) => ({ node: name, hostname: name, roles: Object.keys(parts), versions: {}, committedAt: 0, clockOffsetMs: 0, commits: {}, parts });
const cass = { keyspaces: ['thehive'], tables: [] };
const manifest = {
  id: 'tandem-x',
  nodes: [node('node1', { cassandra: cass, elasticsearch: { skipped: true } }), node('node2', { cassandra: cass }), node('node3', { cassandra: cass })],
  files: [],
} as unknown as Manifest;

test('same node names: every node imports its own SSTables; one recreates the schema', () => {
  const p = planRestore(manifest, [agent('node1', ['cassandra', 'elasticsearch']), agent('node2', ['cassandra']), agent('node3', ['cassandra'])], {});
  assert.ok(p.sameTopology);
  assert.equal(p.steps.map((s) => [s.agent.node, s.options.cassandra_mode, s.options.cassandra_sources, s.options.schema]), [
    ['node1', 'import', 'node1', 'true'],
    ['node2', 'import', 'node2', undefined],
    ['node3', 'import', 'node3', undefined],
  ]);
  assert.match(p.lines.join('\n'), /not backed up \(--skip-index\).*--rebuild-index/);
});

test('another cluster with another node count: one agent streams every node\'s SSTables with sstableloader', () => {
  const p = planRestore(manifest, [agent('b1', ['cassandra', 'elasticsearch'])], { targetKeyspace: 'thehive' });
  assert.not.ok(p.sameTopology);
  assert.equal([p.steps[0].options.cassandra_mode, p.steps[0].options.cassandra_sources], ['sstableloader', 'node1,node2,node3']);
});

test('--rebuild-index goes to the elasticsearch agent, and needs one', () => {
  const p = planRestore(manifest, [agent('node1', ['cassandra', 'elasticsearch'])], { rebuildIndex: true });
  assert.is(p.steps[0].options.rebuild_index, 'true');
  assert.match(p.lines.join('\n'), /forceDropAndRebuildIndex = true/);
  assert.throws(() => planRestore(manifest, [agent('node1', ['cassandra'])], { rebuildIndex: true }), /no agent of the fleet has the elasticsearch role/);
});

test.run();
