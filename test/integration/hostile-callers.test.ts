/** Every hostile caller and hostile call of test/faults/hostile-callers.ts is refused and changes nothing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostileCallerCases } from '../faults/hostile-callers';

for (const c of hostileCallerCases.filter((x) => x.quick)) {
  test(`${c.name} (${c.phase}): ${c.expected}`, async () => {
    const o = await c.run();
    assert.equal(o.problems, [], o.observed);
  });
}

test.run();
