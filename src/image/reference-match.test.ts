import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlob, familiarMatch } from './reference-match.js';
import { parseNormalized, parseReference } from './reference.js';

test('glob syntax follows Go path.Match', () => {
  const cases: Array<[string, string, boolean]> = [
    ['busy*', 'busybox', true],
    ['*', 'me/app', false],
    ['*/*', 'me/app', true],
    ['b?sybox', 'busybox', true],
    ['b?sybox', 'b/sybox', false],
    ['[a-c]usybox', 'busybox', true],
    ['[^a-c]usybox', 'busybox', false],
    ['[^a-c]usybox', 'musybox', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['a.b', 'axb', false],
    ['[z-a]', 'm', false],
    ['app:v[0-9]', 'app:v1', true],
  ];
  for (const [pattern, text, expected] of cases) assert.equal(compileGlob(pattern).test(text), expected, `${pattern} ~ ${text}`);
});

test('malformed patterns are refused with Go message', () => {
  for (const pattern of ['[', '[]', '[a', 'a\\', '[a-]', '[]a]']) {
    assert.throws(() => compileGlob(pattern), { message: 'syntax error in pattern' }, pattern);
  }
});

test('a reference matches by familiar string or familiar name', () => {
  const busybox = parseReference('busybox');
  assert.ok(familiarMatch(compileGlob('busybox'), busybox));
  assert.ok(familiarMatch(compileGlob('busybox:latest'), busybox));
  assert.ok(familiarMatch(compileGlob('*:latest'), busybox));
  assert.ok(!familiarMatch(compileGlob('busybox:1*'), busybox));
  // The normalized form is not what Docker matches against.
  assert.ok(!familiarMatch(compileGlob('docker.io/library/busybox'), busybox));
  const local = parseReference('127.0.0.1:5000/app:v1');
  assert.ok(familiarMatch(compileGlob('127.0.0.1:5000/*'), local));
  assert.ok(!familiarMatch(compileGlob('*'), local));
  const digest = parseNormalized(`me/app@sha256:${'a'.repeat(64)}`);
  assert.ok(familiarMatch(compileGlob('me/app@*'), digest));
});
