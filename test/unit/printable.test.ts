import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printable, printableLine } from '../../shared/printable';

test('terminal escapes, C1 controls and bidirectional overrides are written out, not sent', () => {
  assert.is(printable('host\x1b]0;pwned\x07'), 'host\\u{1b}]0;pwned\\u{7}');
  assert.is(printable('a\u009bb'), 'a\\u{9b}b');
  assert.is(printable('set-\u202etxt.exe'), 'set-\\u{202e}txt.exe');
  assert.is(printable('\x7f'), '\\u{7f}');
});

test('ordinary text, newlines and tabs stay; on one line they are escaped too', () => {
  assert.is(printable('node1 (cass-1.example) rôles: cassandra\n\tok'), 'node1 (cass-1.example) rôles: cassandra\n\tok');
  assert.is(printableLine('a\nb\tc'), 'a\\u{a}b\\u{9}c');
});

test.run();
