import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lowest, median, roundOrder, slowest } from '../bench/stats';

test('the median of an even count is the mean of the two middle values, not the lower one', () => {
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.is(median([5, 1, 3]), 3);
  assert.ok(Number.isNaN(median([])));
});

test('the worst is the longest time and the lowest rate', () => {
  assert.is(slowest([1, 7, 3]), 7);
  assert.is(lowest([10, 2, 5]), 2);
});

test('over rounds, each way runs first and last', () => {
  const ways = ['seed', 'tandem'];
  const rounds = [0, 1, 2, 3].map((r) => roundOrder(ways, r));
  assert.equal(rounds, [['seed', 'tandem'], ['tandem', 'seed'], ['tandem', 'seed'], ['seed', 'tandem']]);
  const three = [0, 1, 2, 3, 4, 5].map((r) => roundOrder(['a', 'b', 'c'], r));
  for (const w of ['a', 'b', 'c']) {
    assert.ok(three.some((o) => o[0] === w), `${w} runs first once`);
    assert.ok(three.some((o) => o[2] === w), `${w} runs last once`);
  }
});

test.run();
