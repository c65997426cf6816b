/** The coordinator widens libuv's thread pool for its file-system waits, unless the operator sized it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COORDINATOR_THREADPOOL_SIZE, widenThreadpool } from '../../coordinator/threadpool';

test('an unset or empty UV_THREADPOOL_SIZE becomes the coordinator default', () => {
  for (const env of [{}, { UV_THREADPOOL_SIZE: '' }] as NodeJS.ProcessEnv[]) {
    widenThreadpool(env);
    assert.is(env.UV_THREADPOOL_SIZE, String(COORDINATOR_THREADPOOL_SIZE));
  }
});

test("an operator's UV_THREADPOOL_SIZE is kept", () => {
  const env: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: '8' };
  widenThreadpool(env);
  assert.is(env.UV_THREADPOOL_SIZE, '8');
});

test.run();
