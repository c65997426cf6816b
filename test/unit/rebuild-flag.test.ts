/** TheHive's index rebuild flag in application.conf: added once, read back as true, owner and mode kept. */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hoconGet, parseHocon } from '../../agent/roles/hocon';
import { addRebuildFlag, checkRebuildFlagWritable, REBUILD_KEY, withoutRebuildBlock, withRebuildBlock } from '../../agent/roles/rebuild-flag';
import { rejects } from '../helpers/assert';
import { removeScratch, scratchDirSync } from '../helpers/scratch';

const CONF = `db.janusgraph {
  storage { backend = cql, hostname = ["127.0.0.1"] }
  forceDropAndRebuildIndex = false
}
`;

test('the block overrides an earlier false, and comes off leaving the file as it was', () => {
  const withFlag = withRebuildBlock(CONF, 'restore-1');
  assert.is(hoconGet(parseHocon(withFlag), REBUILD_KEY), 'true');
  assert.is(hoconGet(parseHocon(CONF), REBUILD_KEY), 'false');
  assert.is(withRebuildBlock(withFlag, 'restore-1'), withFlag, 'adding twice changes nothing');
  assert.is(withoutRebuildBlock(withFlag), CONF);
  assert.is((withRebuildBlock(withFlag, 'restore-2').match(/forceDropAndRebuildIndex = true/g) ?? []).length, 1, 'one block, the latest');
});

test('the file is rewritten in place with its mode; a missing or read-only file is refused up front', async () => {
  const dir = scratchDirSync('rebuild');
  try {
    const conf = join(dir, 'application.conf');
    writeFileSync(conf, CONF);
    chmodSync(conf, 0o640);
    await checkRebuildFlagWritable(conf);
    assert.equal(await addRebuildFlag(conf, 'restore-1'), { file: conf, added: true });
    assert.equal(await addRebuildFlag(conf, 'restore-1'), { file: conf, added: false });
    assert.is(statSync(conf).mode & 0o777, 0o640);
    assert.match(readFileSync(conf, 'utf8'), /# >>> tandem restore restore-1: .*remove this block once TheHive has started\ndb\.janusgraph\.forceDropAndRebuildIndex = true\n# <<< tandem\n$/);
    await rejects(() => checkRebuildFlagWritable(undefined), /needs roles\.elasticsearch\.theHiveConfig/);
    await rejects(() => checkRebuildFlagWritable(join(dir, 'missing.conf')), /is not writable by the agent/);
  } finally {
    removeScratch(dir);
  }
});

test.run();
