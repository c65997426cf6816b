/**
 * Every case of the fault suite's destination-cli section (test/faults/hostile-destination-cli.ts
 * and hostile-destination-links.ts): a real agent with the files role, the real CLI, a local
 * destination in a temporary folder; each refused or harmless, with its invariants held. Needs no
 * sandbox; about 5 minutes on 2 cores.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostileDestinationCliCases } from '../faults/hostile-destination-cli';

for (const c of hostileDestinationCliCases) {
  test(`${c.phase}: ${c.name}`, async () => {
    const o = await c.run();
    assert.equal(o.problems, [], `${c.name}: ${o.observed}`);
    assert.equal([o.measured?.setsLost, o.measured?.outsideChanged, o.measured?.plantedBytesRestored], [0, 0, 0], 'sets lost, changes outside, planted bytes restored');
  });
}

test.run();
