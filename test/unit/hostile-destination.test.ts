/** Every hostile-destination case of `npm run faults` also runs here: each must be refused. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostileDestinationCases } from '../faults/hostile-destination';

for (const c of hostileDestinationCases.filter((x) => x.quick && x.needs === 'none')) {
  test(`${c.phase}: ${c.name}`, async () => {
    const o = await c.run();
    assert.equal(o.problems, [], `${c.name}: ${o.observed}`);
  });
}

test.run();
