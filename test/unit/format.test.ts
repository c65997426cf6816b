/** The one byte formatter of plan lines, progress and summaries. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBytes } from '../../shared/format';

test('bytes below a KiB are whole, larger counts have one decimal in binary units', () => {
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(1023), '1023 B');
  assert.is(formatBytes(1024), '1.0 KiB');
  assert.is(formatBytes(1536), '1.5 KiB');
  assert.is(formatBytes(258 * 1024 * 1024), '258.0 MiB');
  assert.is(formatBytes(3 * 1024 ** 3 + 1024 ** 3 / 10), '3.1 GiB');
  assert.is(formatBytes(2 * 1024 ** 5), '2.0 PiB');
  assert.is(formatBytes(5000 * 1024 ** 5), '5000.0 PiB', 'the largest unit absorbs the rest');
});

test('rates (fractions of bytes) are rounded, not printed raw', () => {
  assert.is(formatBytes(100.4), '100 B');
  assert.is(formatBytes(8.1 * 1024 * 1024), '8.1 MiB');
});

test.run();
