/** The clock fault cases of `npm run faults` (test/faults/clock-faults.ts), in `npm test` too. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clockFaultCases } from '../faults/clock-faults';

for (const c of clockFaultCases) {
  test(`${c.name}: ${c.expected}`, async () => {
    const o = await c.run();
    assert.equal(o.problems, [], o.observed);
  });
}

test.run();
