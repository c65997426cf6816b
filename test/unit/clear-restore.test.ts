/**
 * `tandem agents --clear-restore RESTORE_ID` on the coordinator's side: ClearRestore on every
 * agent, each answer told apart (cleared, nothing held, refused, unreachable), the coordinator's
 * own record of a running restore refusing at once, an interrupted one marked ended. Agents are
 * AgentHandles answering as real ones do (the coordinator's seam); the record is the real file.
 */
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentsCommand } from '../../coordinator/cli/agents';
import { fleetConfigSchema } from '../../coordinator/config';
import type { AgentHandle } from '../../coordinator/fleet';
import { clearRestore } from '../../coordinator/restore/clear';
import { readRestoreRecord, RESTORE_RECORD_FILE, RESTORE_RECORD_FORMAT, startRestoreRecord } from '../../coordinator/restore/record';
import { RpcError } from '../../shared/rpc/call';
import { rejects } from '../helpers/assert';
import { scratchDir } from '../helpers/scratch';
import { signingBlock, writeSigningKeySync } from '../helpers/signing';

const RID = 'restore-20260101t000000z';

type Answer = 'cleared' | 'none' | 'running' | 'gone';
function agent(node: string, answer: Answer, asked: string[]): AgentHandle {
  return {
    node,
    async clearRestore(restoreId: string) {
      asked.push(`${node} ${restoreId}`);
      if (answer === 'running') throw new RpcError(node, 'clearRestore', grpc.status.FAILED_PRECONDITION, `restore ${restoreId} is running on this node (phase load)`);
      if (answer === 'gone') throw new RpcError(node, 'clearRestore', grpc.status.UNAVAILABLE, 'No connection established');
      return answer === 'cleared' ? { existed: true, backupId: 'tandem-20251231t000000z' } : { existed: false, backupId: '' };
    },
    close() {},
  } as unknown as AgentHandle;
}

async function fleetIn() {
  const dir = await scratchDir('clear-restore');
  return fleetConfigSchema.parse({
    agents: [{ node: 'n1', address: '127.0.0.1:7401', roles: ['cassandra'] }, { node: 'n2', address: '127.0.0.1:7402', roles: ['cassandra'] }],
    destination: { type: 'local', path: join(dir, 'dest') },
    stateDir: join(dir, 'coordinator'),
    signing: signingBlock(writeSigningKeySync(join(dir, 'keys'))),
  });
}

test('every agent is asked; cleared, nothing held, refused and unreachable are told apart', async () => {
  const fleet = await fleetIn();
  const asked: string[] = [];
  const out = await clearRestore(fleet, [agent('n1', 'cleared', asked), agent('n2', 'none', asked), agent('n3', 'running', asked), agent('n4', 'gone', asked)], RID, () => undefined);
  assert.equal(asked, ['n1', 'n2', 'n3', 'n4'].map((n) => `${n} ${RID}`));
  assert.equal(out.map((o) => [o.node, o.result]), [['n1', 'cleared'], ['n2', 'none'], ['n3', 'refused'], ['n4', 'unreachable']]);
  assert.is(out[0].detail, 'tandem-20251231t000000z');
  assert.match(out[2].detail, /FAILED_PRECONDITION: restore .* is running on this node/);
});

test("the coordinator's own record: a running restore is refused before any agent is asked; an interrupted one is marked ended", async () => {
  const fleet = await fleetIn();
  const asked: string[] = [];
  // This process runs it: alive.
  startRestoreRecord(fleet.stateDir, { restoreId: RID, backupId: 'tandem-20251231t000000z', kind: 'restore', resume: ['restore', 'tandem-20251231t000000z'] }, () => undefined);
  await rejects(() => clearRestore(fleet, [agent('n1', 'cleared', asked)], RID, () => undefined), /restore restore-20260101t000000z is running from this coordinator \(pid \d+ on .*\): stop it first/);
  assert.equal(asked, []);
  // Its process gone (a pid no process has): interrupted, and cleared it ends.
  const record = { format: RESTORE_RECORD_FORMAT, restoreId: RID, backupId: 'tandem-20251231t000000z', kind: 'restore', pid: 2 ** 22 + 1, host: hostname(), startedMs: 1, phase: 'load', phases: {}, resume: [], ended: null };
  writeFileSync(join(fleet.stateDir, RESTORE_RECORD_FILE), JSON.stringify(record));
  assert.is(readRestoreRecord(fleet.stateDir, () => undefined)?.interrupted, true);
  await clearRestore(fleet, [agent('n1', 'cleared', asked), agent('n2', 'none', asked)], RID, () => undefined);
  const after = readRestoreRecord(fleet.stateDir, () => undefined)!;
  assert.is(after.record.ended?.ok, false);
  assert.match(after.record.ended!.reason, /cleared with 'tandem agents --clear-restore': not resumable/);
});

test('the CLI checks the restore id before it opens anything', async () => {
  await rejects(() => agentsCommand(['--clear-restore', '../x', '--config', '/nonexistent.yaml']), /agents: --clear-restore: invalid restore id "\.\.\/x"/);
  await rejects(() => agentsCommand(['--clear-restore', '', '--config', '/nonexistent.yaml']), /agents: --clear-restore: empty value/);
});

test.run();
